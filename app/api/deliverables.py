"""Plan deliverables: the list (JSON or CSV), a department's report, a report's history, the plan summary."""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request

from app import clock
from app.api.attainment import _day, _instant
from app.api.csvout import csv_response, wants_csv
from app.api.deps import Catalogs, Reader, SessionDep, WriteSessionDep, principal
from app.db import catalog as q
from app.domain.catalog import Catalog
from app.domain.deliverable_reports import ReportInput
from app.domain.deliverables import SEVERITY, DeliverableStatus
from app.domain.keys import Principal
from app.domain.progress import expects_progress, last_report, progress_due_on
from app.domain.tables import to_csv
from app.domain.vocabulary import GROUP_NAMES
from app.schemas.deliverables import (
    DeliverableList,
    DeliverableRead,
    GroupRead,
    PlanSummary,
    ReportAnswer,
    ReportRead,
    ReportWrite,
    RevisionRead,
)
from app.services import deliverables as service
from app.services.catalog import department_or_422

router = APIRouter(tags=["deliverables"])
Code = Path(max_length=16, pattern=r"^r\d{2}-\d{1,2}$", description="r{seq:02d}-{n}, e.g. r03-1")

STATUS_ZH = {"overdue": "逾期", "done_late": "逾期完成", "done_after_extension": "延期后完成",
             "due_soon": "即将到期", "not_due": "未到期",
             "standing": "长期推进", "dropped": "已撤销", "done": "已完成", "done_on_time": "按期完成"}
STATE_ZH = {"planned": "计划中", "in_progress": "推进中", "done": "已完成", "dropped": "已撤销"}
CSV_COLUMNS = (
    ("code", "code", "编号"), ("row_number", "row", "序号"), ("tasks", "tasks", "任务"),
    ("title", "title", "拟出台政策"),
    ("deadline", "deadline", "完成时间"), ("deadline_text", "deadline_text", "完成时间（原文）"),
    ("departments", "departments", "责任处室"), ("status", "status", "状态"), ("light", "light", "红黄绿灯"),
    ("effective_deadline", "effective_deadline", "有效完成时限"), ("state", "state", "进展"),
    ("done_on", "done_on", "完成日期"), ("document_no", "document_no", "文号"), ("url", "url", "链接"),
    ("note", "note", "备注"), ("reported_at", "reported_at", "报告时间"),
)


LIGHT_ZH = {"red": "红灯", "yellow": "黄灯", "green": "绿灯", "grey": "灰灯"}


def deliverable_read(catalog: Catalog, j: service.Judged) -> DeliverableRead:
    """The API's view of one judged deliverable."""
    d, status, actions = j.deliverable, j.status, j.actions
    r = d.report
    on = j.on or clock.today()
    return DeliverableRead(
        code=d.code, row=d.row, row_number=d.row_number, n=d.n, title=d.title, source=d.source, tasks=list(d.tasks),
        actions=list(actions), deadline=d.deadline, deadline_text=d.deadline_text, departments=list(d.departments),
        lead_department=d.departments[0] if d.departments else None, status=status.value,
        report=ReportRead(state=r.state.value, done_on=r.done_on, document_no=r.document_no, url=r.url, note=r.note,
                          reported_at=r.reported_at, reported_by=r.reported_by),
        effective_deadline=d.effective_deadline, light=j.light.value, extension_pending=d.extension_pending,
        progress_days=d.progress_days, progress_from=d.progress_from, last_progress_on=last_report(d, on),
        progress_due_on=progress_due_on(d, on) if expects_progress(d, status) else None,
        progress_overdue=j.progress_overdue,
    )


def _flat(catalog: Catalog, d: DeliverableRead, zh: bool) -> dict[str, Any]:
    names = [catalog.departments[c].name_zh if zh and c in catalog.departments else c for c in d.departments]
    return {
        "code": d.code, "row_number": d.row_number, "tasks": " ".join(map(str, d.tasks)), "title": d.title,
        "deadline": d.deadline, "deadline_text": d.deadline_text, "departments": ("、" if zh else " ").join(names),
        "status": STATUS_ZH[d.status] if zh else d.status, "light": LIGHT_ZH[d.light] if zh else d.light,
        "effective_deadline": d.effective_deadline,
        "state": STATE_ZH[d.report.state] if zh else d.report.state, "done_on": d.report.done_on,
        "document_no": d.report.document_no, "url": d.report.url, "note": d.report.note,
        "reported_at": d.report.reported_at.isoformat() if d.report.reported_at else None,
    }


def _as_of_text(as_of: Any) -> str:
    return as_of.isoformat() if as_of else "now"


@router.get("/deliverables", response_model=DeliverableList,
            responses={200: {"content": {"text/csv": {}}}, 422: {}})
async def list_deliverables(
    request: Request,
    session: SessionDep,
    catalogs: Catalogs,
    _caller: Reader,
    row: int | None = Query(default=None, ge=1, le=999, description="Row position 1–33"),
    task: int | None = Query(default=None, ge=1, le=999),
    action: int | None = Query(default=None, ge=1, le=999),
    department: str | None = Query(default=None, max_length=100, description="Code, name or alias"),
    status: DeliverableStatus | None = None,
    date: str | None = Query(default=None, max_length=10, description="The day judged (default today, Shanghai)"),
    as_of: str | None = Query(default=None, max_length=40, description="What was known then (RFC 3339 or a date)"),
    fmt: Literal["json", "csv"] | None = Query(default=None, alias="format", description="Or send Accept: text/csv"),
    lang: Literal["en", "zh"] = Query(default="en", description="CSV language"),
) -> Any:
    """Every plan deliverable with its status on `date` as known at `as_of`; "what is overdue, and whose?" is
    `?status=overdue`."""
    cat = await catalogs.snapshot(session)
    filters = service.Filters(row=row, task=task, action=action, status=status,
                              department=department_or_422(cat, department) if department else None)
    on, when = _day(date), _instant(as_of)
    listing = await service.list_deliverables(session, cat, filters, on=on, as_of=when)
    items = [deliverable_read(cat, j) for j in listing.items]
    if wants_csv(request, fmt):
        zh = lang == "zh"
        return csv_response(to_csv(CSV_COLUMNS, [_flat(cat, d, zh) for d in items], chinese=zh),
                             f"deliverables-{on}")
    return DeliverableList(date=on.isoformat(), as_of=_as_of_text(when), items=items)


@router.get("/deliverables/{code}", response_model=DeliverableRead, responses={404: {}})
async def get_deliverable(session: SessionDep, catalogs: Catalogs, _caller: Reader, code: str = Code,
                          date: str | None = Query(default=None, max_length=10),
                          as_of: str | None = Query(default=None, max_length=40)) -> DeliverableRead:
    """One deliverable and its status."""
    cat = await catalogs.snapshot(session)
    j = await service.get_deliverable(session, cat, code, on=_day(date), as_of=_instant(as_of))
    return deliverable_read(cat, j)


@router.put("/deliverables/{code}/report", response_model=ReportAnswer, responses={403: {}, 404: {}, 422: {}})
async def report(request: Request, body: ReportWrite, session: WriteSessionDep, catalogs: Catalogs,
                 caller: Annotated[Principal, Depends(principal)], code: str = Code) -> ReportAnswer:
    """A department's report on its deliverable (admin: any). A change is kept as a revision; a resend of the
    current report changes nothing."""
    cat = await catalogs.snapshot(session)
    done = await service.report_deliverable(
        session, caller=caller, code=code, request_id=getattr(request.state, "request_id", None), catalog=cat,
        client_request_id=getattr(request.state, "client_request_id", None),
        report=ReportInput(state=body.state, done_on=body.done_on, document_no=body.document_no, url=body.url,
                           note=body.note),
    )
    j = await service.get_deliverable(session, cat, code, on=_day(None), as_of=None)
    return ReportAnswer(changed=done.revision is not None,
                        revision_id=done.revision.id if done.revision else None,
                        deliverable=deliverable_read(cat, j))


@router.get("/deliverables/{code}/history", response_model=list[RevisionRead], responses={404: {}})
async def history(session: SessionDep, _caller: Reader, code: str = Code) -> list[RevisionRead]:
    """Every report on the deliverable, every admin correction and every step of its extension requests, oldest
    first: together, every deadline it has had."""
    found = await service.deliverable_history(session, code)
    out = [RevisionRead(id=r.id or 0, state=r.state, old_state=r.old_state, done_on=r.done_on,
                        document_no=r.document_no, url=r.url, note=r.note, key_name=r.key_name,
                        department=r.department_code, request_id=r.request_id, key_id=r.key_id,
                        client_request_id=r.client_request_id, recorded_at=r.recorded_at)
           for r in found.reports]
    out += [RevisionRead(kind="edit", id=e.id or 0, key_name=e.key_name, request_id=e.request_id, key_id=e.key_id,
                         client_request_id=e.client_request_id, recorded_at=e.recorded_at,
                         changes={f: jsonable(getattr(e, f)) for f in e.changed})
            for e in found.edits]
    out += [RevisionRead(kind="extension", id=ev.id or 0, state=ev.state, note=ev.note, key_name=ev.key_name,
                         department=x.department_code if ev.action == "request" else None,
                         request_id=ev.request_id, key_id=ev.key_id, client_request_id=ev.client_request_id,
                         recorded_at=ev.recorded_at, extension_id=x.id, action=ev.action,
                         old_deadline=x.old_deadline, new_deadline=x.new_deadline)
            for x, ev in found.extension_events]
    return sorted(out, key=lambda r: r.recorded_at)


def jsonable(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


SUMMARY_COLUMNS = (("group", "group", "分组"), ("key", "key", "代码"), ("name_zh", "name", "名称"),
                   ("total", "total", "合计"), *((s.value, s.value, STATUS_ZH[s.value]) for s in SEVERITY),
                   ("on_time_rate", "on_time_rate", "按期完成率"))
# The summary's group names as Chinese words in a Chinese CSV.
SUMMARY_WORDS = {"group": GROUP_NAMES, "key": {"all": GROUP_NAMES["all"]}}


def _group(g: service.Group) -> GroupRead:
    return GroupRead(key=g.key, name_zh=g.name_zh, name_en=g.name_en, total=g.total, counts=g.counts,
                     on_time_rate=g.on_time_rate)


@router.get("/plan/summary", response_model=PlanSummary, responses={200: {"content": {"text/csv": {}}}, 422: {}})
async def plan_summary(
    request: Request,
    session: SessionDep,
    catalogs: Catalogs,
    _caller: Reader,
    date: str | None = Query(default=None, max_length=10),
    as_of: str | None = Query(default=None, max_length=40),
    fmt: Literal["json", "csv"] | None = Query(default=None, alias="format"),
    lang: Literal["en", "zh"] = Query(default="en"),
) -> Any:
    """Deliverables by status and the on-time rate, per action and per department (every listed one)."""
    cat = await catalogs.snapshot(session)
    titles = {a.number: (a.title_zh, a.title_en) for a in await q.actions(session)}
    on, when = _day(date), _instant(as_of)
    s = await service.plan_summary(session, cat, on=on, as_of=when, action_titles=titles)
    out = PlanSummary(date=on.isoformat(), as_of=_as_of_text(when), total=_group(s.total),
                      by_action=[_group(g) for g in s.by_action], by_department=[_group(g) for g in s.by_department])
    if wants_csv(request, fmt):
        flat = [{"group": name, "key": g.key, "name_zh": g.name_zh, "total": g.total, **g.counts,
                 "on_time_rate": g.on_time_rate}
                for name, groups in (("all", [out.total]), ("action", out.by_action),
                                     ("department", out.by_department)) for g in groups]
        return csv_response(to_csv(SUMMARY_COLUMNS, flat, chinese=lang == "zh", words=SUMMARY_WORDS),
                            f"plan-summary-{on}")
    return out


