"""The department scorecard (考核): JSON, CSV or xlsx; its weights, published by admin and revisioned."""

import io
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request, Response
from openpyxl import Workbook
from openpyxl.styles import Font

from app.api.attainment import _day, _instant
from app.api.csvout import csv_response, wants_csv
from app.api.deps import Catalogs, Reader, SessionDep, WriteSessionDep, author
from app.api.replay import idempotently
from app.db import instructions as store
from app.domain.catalog import Catalog
from app.domain.deliverables import DeliverableStatus, on_time_rate
from app.domain.department_scores import FORMULA, Component, Line, Weights
from app.domain.tables import neutralise, to_csv
from app.schemas.department_scorecard import (
    ComponentRead,
    DeliverableCounts,
    DepartmentLine,
    DepartmentScorecard,
    Extensions,
    Pair,
    WeightsBody,
    WeightsHistory,
    WeightsRead,
    WeightsRevision,
)
from app.services import department_scorecard as service

router = APIRouter(tags=["supervision"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
IdemKey = Annotated[str | None, Header(max_length=255, description="Replays the first answer")]


def _weights(w: Weights) -> WeightsRead:
    return WeightsRead(on_time=w.on_time, progress=w.progress, instructions=w.instructions, targets=w.targets)


def _line(cat: Catalog, line: Line, w: Weights) -> DepartmentLine:
    c = line.counts
    dept = cat.departments.get(c.department)
    statuses = {s.value: c.deliverables.get(s.value, 0) for s in DeliverableStatus}
    for s, n in c.deliverables.items():  # statuses this build does not know yet are kept, not lost
        statuses.setdefault(s, n)
    return DepartmentLine(
        rank=line.rank, score=line.score, department=c.department, name_zh=dept.name_zh if dept else c.department,
        name_en=dept.name_en if dept else c.department,
        components={k.value: ComponentRead(value=v, weight=w.of(k)) for k, v in line.components.items()},
        deliverables=DeliverableCounts(total=sum(statuses.values()), by_status=statuses, by_light=dict(c.lights),
                                       on_time_rate=on_time_rate(statuses),
                                       overdue=statuses.get(DeliverableStatus.OVERDUE.value, 0),
                                       days_overdue=c.days_overdue),
        progress=Pair(on_time=c.progress_on_time, due=c.progress_due),
        instructions=Pair(on_time=c.instructions_in_time, due=c.instructions_addressed),
        extensions=Extensions(requested=c.extensions_requested, approved=c.extensions_approved),
        targets=dict(c.targets),
    )


COLUMNS = (
    ("rank", "rank", "排名"), ("score", "score", "得分"), ("department", "department", "处室代码"),
    ("name", "name", "处室"), ("on_time", "on_time", "按期完成率"), ("progress", "progress", "进展报告及时率"),
    ("instructions", "instructions", "批示办理及时率"), ("targets", "targets", "目标达成或按计划推进比例"),
    ("deliverables", "deliverables", "年内到期事项"), ("overdue", "overdue", "逾期事项"),
    ("days_overdue", "days_overdue", "逾期天数合计"), ("progress_due", "progress_due", "应报进展"),
    ("progress_on_time", "progress_on_time", "按时进展"), ("instructions_due", "instructions_due", "应办批示"),
    ("instructions_on_time", "instructions_on_time", "按时办理批示"),
    ("extensions_requested", "extensions_requested", "延期申请"),
    ("extensions_approved", "extensions_approved", "延期批准"),
)


def _flat(item: DepartmentLine, zh: bool) -> dict[str, Any]:
    return {
        "rank": item.rank, "score": item.score, "department": item.department,
        "name": item.name_zh if zh else item.name_en,
        **{c.value: item.components[c.value].value for c in Component},
        "deliverables": item.deliverables.total, "overdue": item.deliverables.overdue,
        "days_overdue": item.deliverables.days_overdue, "progress_due": item.progress.due,
        "progress_on_time": item.progress.on_time, "instructions_due": item.instructions.due,
        "instructions_on_time": item.instructions.on_time, "extensions_requested": item.extensions.requested,
        "extensions_approved": item.extensions.approved,
    }


def _xlsx(out: DepartmentScorecard, zh: bool) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "考核" if zh else "scorecard"
    sheet.append([zh_head if zh else en for _, en, zh_head in COLUMNS])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for item in out.items:
        flat = _flat(item, zh)
        sheet.append([neutralise(v) if isinstance(v, str) else v for v in (flat[k] for k, _, _ in COLUMNS)])
    sheet.append([])
    sheet.append([neutralise(out.formula)])
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


@router.get("/departments/scorecard", response_model=DepartmentScorecard,
            responses={200: {"content": {"text/csv": {}, XLSX: {}}}, 422: {}})
async def scorecard(
    request: Request, session: SessionDep, catalogs: Catalogs, _caller: Reader,
    year: int | None = Query(default=None, ge=2000, le=2100, description="Default: the judged day's year"),
    date: str | None = Query(default=None, max_length=10),
    as_of: str | None = Query(default=None, max_length=40),
    fmt: Literal["json", "csv", "xlsx"] | None = Query(default=None, alias="format"),
    lang: Literal["en", "zh"] = Query(default="en", description="CSV and xlsx language"),
) -> Any:
    """Every 处室 scored for a year and ranked (ties share a rank: 1, 1, 3); the formula is in the answer."""
    cat = await catalogs.snapshot(session)
    on, when = _day(date), _instant(as_of)
    card = await service.scorecard(session, cat, year=year, on=on, as_of=when,
                                   report_timeout=request.app.state.settings.report_timeout_seconds)
    out = DepartmentScorecard(year=card.year, date=on.isoformat(), as_of=when.isoformat() if when else "now",
                              weights=_weights(card.weights), formula=FORMULA,
                              items=[_line(cat, line, card.weights) for line in card.lines])
    zh = lang == "zh"
    name = f"department-scorecard-{card.year}-{on}"
    if fmt == "xlsx" or (fmt is None and XLSX in request.headers.get("accept", "")):
        return Response(_xlsx(out, zh), media_type=XLSX,
                        headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'})
    if wants_csv(request, fmt):
        return csv_response(to_csv(COLUMNS, [_flat(i, zh) for i in out.items], chinese=zh), name)
    return out


@router.get("/departments/scorecard/weights", response_model=WeightsHistory)
async def weights(session: SessionDep, _caller: Reader) -> WeightsHistory:
    """The weights in force and every revision of them (who, when)."""
    history = await store.weights_history(session)
    return WeightsHistory(current=_weights(await service.weights_at(session, None)),
                          history=[WeightsRevision(on_time=w.on_time, progress=w.progress,
                                                   instructions=w.instructions, targets=w.targets,
                                                   key_name=w.key_name, recorded_at=w.recorded_at.isoformat())
                                   for w in history])


@router.put("/departments/scorecard/weights", response_model=WeightsRead, responses={403: {}, 422: {}})
async def put_weights(body: WeightsBody, request: Request, session: WriteSessionDep, caller: Reader,
                      idempotency_key: IdemKey = None) -> Response:
    """Publish the weights (admin): each 0–1000, not all zero; kept as a revision."""
    async def run() -> WeightsRead:
        w = Weights(on_time=body.on_time, progress=body.progress, instructions=body.instructions,
                    targets=body.targets)
        return _weights(await service.set_weights(session, w, by=caller, who=author(request, caller)))

    return await idempotently(request, session, caller, idempotency_key, 200, run)
