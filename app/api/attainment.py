"""Attainment for other bureaus: every target judged on a day, as known at an instant; JSON or CSV."""

from datetime import date, datetime
from typing import Any, Literal

from fastapi import APIRouter, Path, Query, Request

from app.api.csvout import csv_response, wants_csv
from app.api.deps import Catalogs, Reader, SessionDep
from app.domain.attainment import SEVERITY, Status
from app.domain.catalog import CITY, Catalog
from app.domain.periods import today_in_shanghai
from app.domain.tables import to_csv
from app.domain.times import parse_as_of, parse_day
from app.domain.vocabulary import GROUP_NAMES, KIND_NAMES, LIGHT_NAMES, STATUS_NAMES
from app.errors import Unprocessable
from app.i18n import message_of
from app.schemas.attainment import AttainmentReport, AttainmentRow, SummaryReport, YearlyReport
from app.services import attainment as service
from app.services import attainment_reads as reads
from app.services.catalog import department_or_422, indicator_or_404, unit_code_or_422

router = APIRouter(tags=["attainment"])

CSV_COLUMNS = (
    ("indicator", "indicator", "指标代码"), ("indicator_name_zh", "indicator_name", "指标名称"),
    ("task", "task", "任务"), ("action", "action", "行动"), ("departments", "departments", "责任处室"),
    ("unit_code", "unit_code", "单位代码"), ("unit_name", "unit_name", "单位"), ("kind", "kind", "目标类型"),
    ("op", "op", "比较"), ("target", "target", "目标值"), ("target_year", "target_year", "目标年份"),
    ("inherited", "inherited", "继承"), ("status", "status", "状态"), ("light", "light", "红黄绿灯"),
    ("actual_value", "actual", "实际值"),
    ("actual_period", "actual_period", "实际期间"), ("baseline_value", "baseline", "基线"),
    ("projection", "projection", "预测"), ("pace", "pace", "进度速度"), ("progress", "progress", "完成进度"),
    ("attainment_ratio", "attainment_ratio", "达成率"), ("units_met", "units_met", "达标单位数"),
    ("units_total", "units_total", "单位总数"), ("reported", "reported", "已报送下级"),
    ("total", "expected", "应报下级数"), ("reason", "reason", "原因"), ("trend", "trend", "趋势"),
    ("partial_value", "partial_value", "未完整年份值"),
)
SUMMARY_COLUMNS = (("group", "group", "分组"), ("key", "key", "代码"), ("name_zh", "name", "名称"),
                   ("total", "total", "合计"),
                   *((s.value, s.value, STATUS_NAMES[s.value].render("zh")) for s in SEVERITY))
# Coded values a Chinese CSV shows as words (SPEC: "lang=zh CSV is Chinese throughout").
ROW_WORDS = {"status": STATUS_NAMES, "kind": KIND_NAMES, "light": LIGHT_NAMES}
SUMMARY_WORDS = {"group": GROUP_NAMES, "key": {"all": GROUP_NAMES["all"]}}


def _day(text: str | None) -> date:
    if not text:
        return today_in_shanghai()
    try:
        return parse_day(text)
    except ValueError as exc:
        raise Unprocessable(message_of(exc), errors=[{"location": "query.date", "message": str(exc)}]) from None


def _instant(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return parse_as_of(text)
    except ValueError as exc:
        raise Unprocessable(message_of(exc), errors=[{"location": "query.as_of", "message": str(exc)}]) from None


async def _report(
    request: Request, session: SessionDep, catalogs: Catalogs, when: str | None, as_of: str | None
) -> tuple[Catalog, service.Report]:
    cat = await catalogs.snapshot(session)
    timeout = request.app.state.settings.report_timeout_seconds
    return cat, await service.report(session, cat, on=_day(when), as_of=_instant(as_of), report_timeout=timeout)


@router.get("/attainment", response_model=AttainmentReport, responses={200: {"content": {"text/csv": {}}}, 422: {}})
async def attainment(
    request: Request,
    session: SessionDep,
    catalogs: Catalogs,
    _caller: Reader,
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
    rows = reads.rows_read(cat, report)
    rows = [
        r for r in rows
        if (unit_code is None or r.unit_code == unit_code) and (task is None or r.task == task)
        and (action is None or r.action == action) and (dept is None or dept in r.departments)
        and (indicator is None or r.indicator == indicator) and (status is None or r.status == status.value)
    ]
    if wants_csv(request, fmt):
        flat = [_flat(cat, r, chinese=lang == "zh") for r in rows]
        return csv_response(to_csv(CSV_COLUMNS, flat, chinese=lang == "zh", words=ROW_WORDS),
                            f"attainment-{report.on}")
    return AttainmentReport(date=report.on.isoformat(), as_of=reads.as_of_text(report), rows=rows)


def _flat(cat: Catalog, r: AttainmentRow, *, chinese: bool) -> dict[str, Any]:
    d = r.model_dump()
    d["departments"] = ("、".join(cat.departments[c].name_zh if c in cat.departments else c for c in r.departments)
                        if chinese else " ".join(r.departments))
    d["actual_value"] = r.actual.value if r.actual else None
    d["actual_period"] = r.actual.period if r.actual else None
    d["baseline_value"] = r.baseline.value if r.baseline else None
    d["reported"] = r.complete.reported if r.complete else None
    d["total"] = r.complete.expected if r.complete else None
    d["partial_value"] = r.partial.value if r.partial else None
    return d


@router.get("/attainment/summary", response_model=SummaryReport, responses={200: {"content": {"text/csv": {}}},
                                                                           422: {}})
async def summary(
    request: Request,
    session: SessionDep,
    catalogs: Catalogs,
    _caller: Reader,
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
    out = await reads.summarize(session, cat, report, unit=code, department=dept)
    if wants_csv(request, fmt):
        flat = [{"group": g, "key": c.key, "name_zh": c.name_zh, "total": c.total, **c.counts}
                for g, group in (("all", [out.total]), ("action", out.by_action), ("department", out.by_department))
                for c in group]
        return csv_response(to_csv(SUMMARY_COLUMNS, flat, chinese=lang == "zh", words=SUMMARY_WORDS),
                            f"attainment-summary-{report.on}")
    return out


@router.get("/indicators/{code}/yearly", response_model=YearlyReport, responses={404: {}, 422: {}})
async def yearly(
    request: Request,
    session: SessionDep,
    catalogs: Catalogs,
    _caller: Reader,
    code: str = Path(max_length=64),
    date: str | None = Query(default=None, max_length=10),
    as_of: str | None = Query(default=None, max_length=40),
) -> YearlyReport:
    """Yearly values A(u, y) of the city and every district for one indicator, as the report judges them."""
    cat, report = await _report(request, session, catalogs, date, as_of)
    indicator_or_404(cat, code)
    return reads.yearly(cat, report, code)
