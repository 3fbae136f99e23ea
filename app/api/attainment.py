"""Attainment for other bureaus: every target judged on a day, as known at an instant; JSON or CSV."""

from collections import Counter
from datetime import date, datetime
from typing import Any, Literal

from fastapi import APIRouter, Query, Request, Response

from app.api.deps import Catalogs, Reader, SessionDep
from app.db import catalog as q
from app.domain.attainment import SEVERITY, Status
from app.domain.catalog import CITY, Catalog
from app.domain.periods import today_in_shanghai
from app.domain.report import Row
from app.domain.reporting import latest_due_year, rates
from app.domain.tables import to_csv
from app.domain.times import parse_as_of, parse_day
from app.errors import Unprocessable
from app.schemas.attainment import (
    Actual,
    AttainmentReport,
    AttainmentRow,
    BaselineRead,
    Completeness,
    Partial,
    StatusCounts,
    SummaryReport,
    UnitCompleteness,
    YearRead,
)
from app.services import attainment as service
from app.services import completeness
from app.services.catalog import department_or_422, indicator_or_404, unit_code_or_422

router = APIRouter(tags=["attainment"])

CSV_COLUMNS = (
    ("indicator", "indicator", "指标代码"), ("indicator_name_zh", "indicator_name", "指标名称"),
    ("task", "task", "任务"), ("action", "action", "行动"), ("departments", "departments", "责任处室"),
    ("unit_code", "unit_code", "单位代码"), ("unit_name", "unit_name", "单位"), ("kind", "kind", "目标类型"),
    ("op", "op", "比较"), ("target", "target", "目标值"), ("target_year", "target_year", "目标年份"),
    ("inherited", "inherited", "继承"), ("status", "status", "状态"), ("actual_value", "actual", "实际值"),
    ("actual_period", "actual_period", "实际期间"), ("baseline_value", "baseline", "基线"),
    ("projection", "projection", "预测"), ("pace", "pace", "进度速度"), ("progress", "progress", "完成进度"),
    ("attainment_ratio", "attainment_ratio", "达成率"), ("units_met", "units_met", "达标单位数"),
    ("units_total", "units_total", "单位总数"), ("reported", "reported", "已报送下级"),
    ("total", "expected", "应报下级数"), ("reason", "reason", "原因"), ("trend", "trend", "趋势"),
    ("partial_value", "partial_value", "未完整年份值"),
)
SUMMARY_COLUMNS = (("group", "group", "分组"), ("key", "key", "代码"), ("name_zh", "name", "名称"),
                   ("total", "total", "合计"),
                   *((s.value, s.value, s.value) for s in SEVERITY))


def _day(text: str | None) -> date:
    if not text:
        return today_in_shanghai()
    try:
        return parse_day(text)
    except ValueError as exc:
        raise Unprocessable(str(exc), errors=[{"location": "query.date", "message": str(exc)}]) from None


def _instant(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return parse_as_of(text)
    except ValueError as exc:
        raise Unprocessable(str(exc), errors=[{"location": "query.as_of", "message": str(exc)}]) from None


def _row_read(cat: Catalog, r: Row) -> AttainmentRow:
    ind = cat.indicators[r.indicator]
    task = cat.tasks[ind.task_number]
    j = r.judgement
    actual = (Actual(value=j.actual, year=j.actual_year, period=j.actual_period)
              if j.actual is not None and j.actual_year is not None else None)
    baseline = BaselineRead(value=j.baseline, year=j.baseline_year) if j.baseline is not None else None
    unit = cat.units.get(r.unit_code)
    return AttainmentRow(
        target_id=r.target_id, indicator=r.indicator, indicator_name_zh=ind.name_zh, indicator_name_en=ind.name_en,
        measure_unit=ind.unit, task=ind.task_number, action=task.action_number,
        departments=cat.task_departments.get(ind.task_number, []), unit_code=r.unit_code,
        unit_name=unit.name if unit else r.unit_code, kind=r.kind.value, op=r.op, target=r.target_value,
        target_year=r.target_year, year_from=r.year_from, inherited=r.inherited, parent_unit=r.parent_unit,
        status=j.status.value, met=j.met, actual=actual, baseline=baseline, projection=j.projection, pace=j.pace,
        progress=j.progress, attainment_ratio=j.attainment_ratio, deadline_passed=j.deadline_passed,
        years=[YearRead(year=y.year, value=y.value, met=y.met, missing=y.missing, pending=y.pending,
                        incomplete=y.incomplete) for y in j.years],
        units_met=j.units_met, units_total=j.units_total,
        complete=Completeness(reported=j.reported, expected=j.total) if j.total else None,
        reason=j.reason, trend=j.trend,
        partial=Partial(value=j.partial.value, year=j.partial.year, period=j.partial.period) if j.partial else None,
    )


def _wants_csv(request: Request, fmt: str | None) -> bool:
    return fmt == "csv" or (fmt is None and "text/csv" in request.headers.get("accept", ""))


def _csv_response(body: bytes, name: str) -> Response:
    return Response(body, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


async def _report(
    request: Request, session: SessionDep, catalogs: Catalogs, when: str | None, as_of: str | None
) -> tuple[Catalog, service.Report]:
    cat = await catalogs.snapshot(session)
    timeout = request.app.state.settings.report_timeout_seconds
    return cat, await service.report(session, cat, on=_day(when), as_of=_instant(as_of), report_timeout=timeout)


def _as_of_text(report: service.Report) -> str:
    return report.as_of.isoformat() if report.as_of else "now"


@router.get("/attainment", response_model=AttainmentReport, responses={200: {"content": {"text/csv": {}}}, 422: {}})
async def attainment(
    request: Request,
    session: SessionDep,
    catalogs: Catalogs,
    _: Reader,
    date: str | None = Query(default=None, max_length=10, description="The day judged (default today, Asia/Shanghai)"),
    as_of: str | None = Query(default=None, max_length=40, description="What was known then (RFC 3339 or a date)"),
    unit: str | None = Query(default=None, max_length=64, description="Unit code, name or alias"),
    task: int | None = Query(default=None, ge=1, le=999),
    action: int | None = Query(default=None, ge=1, le=999),
    department: str | None = Query(default=None, max_length=100, description="Code, name or alias"),
    indicator: str | None = Query(default=None, max_length=64),
    status: Status | None = None,
    fmt: Literal["json", "csv"] | None = Query(default=None, alias="format", description="Or send Accept: text/csv"),
    lang: Literal["en", "zh"] = Query(default="en", description="CSV header language"),
) -> Any:
    """Where each target stands: value, baseline, projection, pace, progress, status — per unit."""
    cat, report = await _report(request, session, catalogs, date, as_of)
    dept = department_or_422(cat, department) if department else None
    if indicator is not None:
        indicator_or_404(cat, indicator)
    unit_code = unit_code_or_422(cat, unit) if unit else None
    rows = [_row_read(cat, r) for r in report.rows]
    rows = [
        r for r in rows
        if (unit_code is None or r.unit_code == unit_code) and (task is None or r.task == task)
        and (action is None or r.action == action) and (dept is None or dept in r.departments)
        and (indicator is None or r.indicator == indicator) and (status is None or r.status == status.value)
    ]
    if _wants_csv(request, fmt):
        flat = [_flat(r) for r in rows]
        return _csv_response(to_csv(CSV_COLUMNS, flat, chinese=lang == "zh"), f"attainment-{report.on}")
    return AttainmentReport(date=report.on.isoformat(), as_of=_as_of_text(report), rows=rows)


def _flat(r: AttainmentRow) -> dict[str, Any]:
    d = r.model_dump()
    d["departments"] = " ".join(r.departments)
    d["actual_value"] = r.actual.value if r.actual else None
    d["actual_period"] = r.actual.period if r.actual else None
    d["baseline_value"] = r.baseline.value if r.baseline else None
    d["reported"] = r.complete.reported if r.complete else None
    d["total"] = r.complete.expected if r.complete else None
    d["partial_value"] = r.partial.value if r.partial else None
    return d


def _counts(key: str, name_zh: str, name_en: str, statuses: list[str]) -> StatusCounts:
    c = Counter(statuses)
    return StatusCounts(key=key, name_zh=name_zh, name_en=name_en, total=len(statuses),
                        counts={s.value: c.get(s.value, 0) for s in SEVERITY})


@router.get("/attainment/summary", response_model=SummaryReport, responses={200: {"content": {"text/csv": {}}},
                                                                           422: {}})
async def summary(
    request: Request,
    session: SessionDep,
    catalogs: Catalogs,
    _: Reader,
    date: str | None = Query(default=None, max_length=10),
    as_of: str | None = Query(default=None, max_length=40),
    unit: str | None = Query(default=None, max_length=64, description="Any unit (default the city)"),
    department: str | None = Query(default=None, max_length=100, description="Code, name or alias"),
    fmt: Literal["json", "csv"] | None = Query(default=None, alias="format"),
    lang: Literal["en", "zh"] = Query(default="en"),
) -> Any:
    """Status counts of one unit's target rows (its inherited and each_unit child rows included), per action and
    per responsible department (责任处室), with the unit's reporting completeness for the latest year due."""
    cat, report = await _report(request, session, catalogs, date, as_of)
    code = unit_code_or_422(cat, unit) if unit else CITY
    dept = department_or_422(cat, department) if department else None
    mine = [r for r in report.rows if r.unit_code == code
            and (dept is None or dept in cat.task_departments.get(cat.indicators[r.indicator].task_number, []))]
    by_action: dict[int, list[str]] = {n: [] for n in sorted({t.action_number for t in cat.tasks.values()})}
    by_dept: dict[str, list[str]] = {c: [] for c in sorted(cat.departments)}
    for r in mine:
        task = cat.indicators[r.indicator].task_number
        by_action[cat.tasks[task].action_number].append(r.judgement.status.value)
        for d in cat.task_departments.get(task, []):
            if dept is None or d == dept:
                by_dept[d].append(r.judgement.status.value)
    actions = {a.number: a for a in await q.actions(session)}
    due_year = latest_due_year(report.on, (i.due_days for i in cat.indicators.values()))
    items = await completeness.items(session, cat, year=due_year, on=report.on, as_of=report.as_of,
                                     within=cat.subtree(code))
    done = rates(i.state for i in items)
    out = SummaryReport(
        date=report.on.isoformat(), as_of=_as_of_text(report), unit=code, department=dept,
        completeness=UnitCompleteness(year=due_year, expected=done.expected, reported=done.reported,
                                      on_time=done.on_time, reporting_rate=done.reporting_rate,
                                      on_time_rate=done.on_time_rate),
        total=_counts("all", "全部", "All", [r.judgement.status.value for r in mine]),
        by_action=[_counts(str(n), actions[n].title_zh if n in actions else "", actions[n].title_en if n in actions
                           else "", s) for n, s in by_action.items()],
        by_department=[_counts(c, cat.departments[c].name_zh, cat.departments[c].name_en, s)
                       for c, s in by_dept.items() if s],
    )
    if _wants_csv(request, fmt):
        flat = [{"group": g, "key": c.key, "name_zh": c.name_zh, "total": c.total, **c.counts}
                for g, group in (("all", [out.total]), ("action", out.by_action), ("department", out.by_department))
                for c in group]
        return _csv_response(to_csv(SUMMARY_COLUMNS, flat, chinese=lang == "zh"), f"attainment-summary-{report.on}")
    return out
