"""Reporting completeness: who has reported what for a year, on time or late, and the rates (JSON or CSV)."""

from collections import defaultdict
from typing import Any, Literal

from fastapi import APIRouter, Query, Request

from app.api.attainment import _day, _instant
from app.api.csvout import csv_response, wants_csv
from app.api.deps import Catalogs, Reader, SessionDep
from app.domain.catalog import CITY, Catalog
from app.domain.reporting import latest_due_year, rates
from app.domain.tables import to_csv
from app.domain.vocabulary import REPORT_STATE_NAMES
from app.schemas.completeness import CompletenessReport, ItemRead, RatesRead
from app.services import completeness as service
from app.services.catalog import indicator_or_404, unit_code_or_422

router = APIRouter(tags=["completeness"])

CSV_COLUMNS = (
    ("indicator", "indicator", "指标代码"), ("unit_code", "unit_code", "单位代码"), ("unit_name", "unit_name", "单位"),
    ("year", "year", "年份"), ("due", "due", "截止日期"), ("state", "state", "报送状态"),
    ("completed_at", "completed_at", "报齐时间"), ("value", "value", "数值"),
)
# A Chinese CSV shows report states as words (SPEC: "lang=zh CSV is Chinese throughout").
CSV_WORDS = {"state": REPORT_STATE_NAMES}


def _rates(key: str, name: str, found: list[service.Item]) -> RatesRead:
    r = rates(i.state for i in found)
    return RatesRead(key=key, name=name, expected=r.expected, reported=r.reported, on_time=r.on_time, late=r.late,
                     missing=r.missing, not_due=r.not_due, reporting_rate=r.reporting_rate,
                     on_time_rate=r.on_time_rate)


def _name(cat: Catalog, code: str) -> str:
    unit = cat.units.get(code)
    return unit.name if unit else code


@router.get("/completeness", response_model=CompletenessReport, responses={200: {"content": {"text/csv": {}}},
                                                                          422: {}})
async def completeness(
    request: Request,
    session: SessionDep,
    catalogs: Catalogs,
    _caller: Reader,
    year: int | None = Query(default=None, ge=1900, le=2100, description="Default: the latest year already due"),
    indicator: str | None = Query(default=None, max_length=64),
    unit: str | None = Query(default=None, max_length=64, description="Reporters in this unit's subtree"),
    date: str | None = Query(default=None, max_length=10, description="The day judged (default today)"),
    as_of: str | None = Query(default=None, max_length=40, description="What was known then"),
    fmt: Literal["json", "csv"] | None = Query(default=None, alias="format"),
    lang: Literal["en", "zh"] = Query(default="en"),
) -> Any:
    """Each (indicator, reporter, year): on_time, late, missing or not_due; rates per unit, indicator and city."""
    cat = await catalogs.snapshot(session)
    on, known = _day(date), _instant(as_of)
    if indicator is not None:
        indicator_or_404(cat, indicator)
    root = unit_code_or_422(cat, unit) if unit else CITY
    inds = [indicator] if indicator else sorted(cat.indicators)
    chosen = year if year is not None else latest_due_year(on, (cat.indicators[i].due_days for i in inds))
    found = await service.items(session, cat, year=chosen, on=on, as_of=known, indicators=inds,
                                within=cat.subtree(root))
    by_unit: dict[str, list[service.Item]] = defaultdict(list)
    by_ind: dict[str, list[service.Item]] = defaultdict(list)
    for i in found:
        by_unit[i.unit].append(i)
        by_ind[i.indicator].append(i)
    items = [ItemRead(indicator=i.indicator, unit_code=i.unit, unit_name=_name(cat, i.unit), year=i.year,
                      due=i.due.isoformat(), state=i.state.value,
                      completed_at=i.completed_at.isoformat() if i.completed_at else None, value=i.value)
             for i in found]
    if wants_csv(request, fmt):
        flat = [i.model_dump() for i in items]
        return csv_response(to_csv(CSV_COLUMNS, flat, chinese=lang == "zh", words=CSV_WORDS), f"completeness-{chosen}")
    return CompletenessReport(
        year=chosen, date=on.isoformat(), as_of=known.isoformat() if known else "now", items=items,
        units=[_rates(u, _name(cat, u), by_unit[u]) for u in sorted(by_unit)],
        indicators=[_rates(i, cat.indicators[i].name_zh, by_ind[i]) for i in sorted(by_ind)],
        city=_rates(root, _name(cat, root), found),
    )
