"""Feeding the attainment rules: targets (current or as of), and yearly values from the kept totals, from
the stored values, or from the revisions — a bounded number of set-based queries whatever the data size."""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import measurements, pgbulk
from app.db.bulk import chunks
from app.db.catalog import CITY, Catalog
from app.db.models import CatalogRevision, Target, YearlyValue
from app.domain.attainment import Bounds, Kind, TargetSpec
from app.domain.periods import Period, PeriodType
from app.domain.report import IndicatorInfo, Row, TargetInfo, build_rows
from app.domain.yearly import Measure, Observation, YearValue, own_yearly, rollup

Series = dict[tuple[str, str], dict[int, YearValue]]


@dataclass(frozen=True, slots=True)
class Report:
    rows: list[Row]
    on: date
    as_of: datetime | None
    source: str  # "kept" (yearly totals), "values" (recomputed for the judged year) or "revisions" (as_of)
    series: Series  # the yearly values A(u, y) the rows were judged on


def indicator_infos(catalog: Catalog) -> dict[str, IndicatorInfo]:
    """What the rules need of each indicator; projections clamp percents to [0, max], the rest to ≥ 0."""
    out = {}
    for code, i in catalog.indicators.items():
        high = i.max_value if i.unit == "percent" else None
        out[code] = IndicatorInfo(code=code, task=i.task_number, unit=i.unit, measure=Measure(i.measure),
                                  direction=i.direction, level=i.level, bounds=Bounds(low=0.0, high=high))
    return out


def _target_info(d: Any) -> TargetInfo:
    spec = TargetSpec(kind=Kind(d["kind"]), op=d["op"], value=float(d["value"]), year=d["year"],
                      year_from=d["year_from"], baseline_value=d["baseline_value"], baseline_year=d["baseline_year"])
    return TargetInfo(id=int(d["id"]), indicator=d["indicator_code"], unit_code=d["unit_code"], spec=spec)


async def targets(session: AsyncSession, *, as_of: datetime | None) -> list[TargetInfo]:
    """Targets as they stand now, or as they stood at `as_of` (rebuilt from their revisions)."""
    if as_of is None:
        rows = (await session.execute(select(Target))).scalars()
        return [_target_info(t.model_dump()) for t in rows]
    R = CatalogRevision.__table__  # type: ignore[attr-defined]
    ranked = (
        select(R.c.data, R.c.action, func.row_number().over(partition_by=R.c.entity_key, order_by=R.c.id.desc())
               .label("rn"))
        .where(R.c.entity == "target", R.c.recorded_at <= as_of)
        .subquery()
    )
    states = await session.execute(select(ranked.c.data).where(ranked.c.rn == 1, ranked.c.action != "delete"))
    return [_target_info(data) for (data,) in states if data]


def _needed_units(catalog: Catalog, found: Iterable[TargetInfo]) -> set[str]:
    units = set()
    for t in found:
        units.add(t.unit_code)
        units.update(catalog.children.get(t.unit_code, []))
    return units


async def _kept(
    session: AsyncSession, catalog: Catalog, units: set[str], indicators: set[str], last_year: int
) -> Series:
    Y = YearlyValue.__table__  # type: ignore[attr-defined]
    series: Series = defaultdict(dict)
    for part in chunks(sorted(units)):
        rows = await session.execute(
            select(Y.c.indicator_code, Y.c.unit_code, Y.c.year, Y.c.value, Y.c.numerator, Y.c.denominator,
                   Y.c.period, Y.c.period_end, Y.c.own, Y.c.reported, Y.c.total)
            .where(Y.c.unit_code.in_(list(part)), Y.c.indicator_code.in_(sorted(indicators)), Y.c.year <= last_year)
        )
        for ind, unit, year, value, num, den, period, end, own, reported, total in rows:
            if not own:
                # Units added since the total was kept count as not reporting.
                total = len(catalog.children.get(unit, ()))
            series[(ind, unit)][year] = YearValue(year, value, num, den, period, end, own, reported, total)
    return series


def _rolled(catalog: Catalog, rows: Iterable[measurements.ValueRow], on: date) -> Series:
    """Own yearly values of every unit from raw values, rolled up the tree per indicator."""
    obs: dict[str, dict[str, list[Observation]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if r.period_end <= on and r.value is not None:
            period = Period(PeriodType(r.period_type), r.period, r.period_start, r.period_end)
            obs[r.indicator][r.unit].append(Observation(period, r.value, r.numerator, r.denominator))
    series: Series = {}
    for ind, by_unit in obs.items():
        measure = Measure(catalog.indicators[ind].measure)
        own = {u: own_yearly(measure=measure, observations=o) for u, o in by_unit.items()}
        for unit, years in rollup(measure=measure, children=catalog.children, own=own, root=CITY).items():
            series[(ind, unit)] = years
    return series


async def report(
    session: AsyncSession, catalog: Catalog, *, on: date, as_of: datetime | None, report_timeout: float = 120.0
) -> Report:
    """Every target judged on `on` with what was known at `as_of` (None: now)."""
    found = [t for t in await targets(session, as_of=as_of) if t.indicator in catalog.indicators]
    infos = indicator_infos(catalog)
    if as_of is not None:
        rows: Iterable[measurements.ValueRow]
        if pgbulk.is_postgres(session):
            # Rebuilding the past reads every revision: allowed longer than an ordinary statement.
            latest = await pgbulk.values_as_of(session, as_of=as_of, end=on, timeout=report_timeout)
            rows = (measurements.ValueRow(*tuple(r)) for r in latest)
        else:
            rows = await measurements.values(session, as_of=as_of, end=on)
        series = _rolled(catalog, rows, on)
        source = "revisions"
    else:
        units = _needed_units(catalog, found)
        series = await _kept(session, catalog, units, {t.indicator for t in found}, on.year)
        source = "kept"
        # Kept totals cover whole years; a day inside a year sees only the periods ended by then.
        if any(y.period_end > on for years in series.values() for y in years.values()):
            this_year = await measurements.values(session, start=date(on.year, 1, 1), end=on)
            fresh = _rolled(catalog, this_year, on)
            for key in list(series):
                series[key].pop(on.year, None)
            for key, years in fresh.items():
                if key[1] in units and on.year in years:
                    series.setdefault(key, {})[on.year] = years[on.year]
            source = "values"
    rows_out = build_rows(indicators=infos, targets=found, children=catalog.children, values=series, on=on)
    return Report(rows=rows_out, on=on, as_of=as_of, source=source, series=series)
