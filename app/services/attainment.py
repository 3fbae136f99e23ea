"""The attainment report use case: targets judged on a day with what was known at an instant."""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.db import attainment as reads
from app.db import measurements
from app.db.attainment import Series
from app.db.reporters import scopes
from app.domain.attainment import Bounds
from app.domain.catalog import CITY, Catalog
from app.domain.completeness import Scope, Tree, mark
from app.domain.periods import Period, PeriodType
from app.domain.report import IndicatorInfo, Row, TargetInfo, build_rows
from app.domain.yearly import Measure, Observation, YearValue, own_yearly, rollup
from app.services import instructions


@dataclass(frozen=True, slots=True)
class Report:
    rows: list[Row]
    on: date
    as_of: datetime | None
    # "kept" (kept rows, now or as of), "values" (the judged year recomputed from values) or "revisions" (an as_of
    # older than the kept rows' history)
    source: str
    series: Series  # the yearly values A(u, y) the rows were judged on
    # (kind, code) of every task, deliverable and indicator with an overdue 批示 on `on`: lights turn red there.
    pressed: frozenset[tuple[str, str]] = frozenset()


def indicator_infos(catalog: Catalog) -> dict[str, IndicatorInfo]:
    """What the rules need of each indicator; projections clamp percents to [0, max], the rest to ≥ 0."""
    out = {}
    for code, i in catalog.indicators.items():
        high = i.max_value if i.unit == "percent" else None
        out[code] = IndicatorInfo(code=code, task=i.task_number, unit=i.unit, measure=Measure(i.measure),
                                  direction=i.direction, level=i.level, bounds=Bounds(low=0.0, high=high))
    return out


def _needed_units(catalog: Catalog, found: Iterable[TargetInfo], trees: dict[str, Tree]) -> set[str]:
    """Target units, their children, and every unit completeness looks at: reporters and their ancestors."""
    units = set()
    for t in found:
        units.add(t.unit_code)
        units.update(catalog.children.get(t.unit_code, []))
        units.update(trees[t.indicator].relevant)
    return units


def _marked(series: Series, rules: dict[str, Scope], trees: dict[str, Tree]) -> Series:
    """Each yearly value told whether it is complete (docs/ATTAINMENT.md), indicator by indicator."""
    by_indicator: dict[str, dict[str, dict[int, YearValue]]] = defaultdict(dict)
    for (ind, unit), years in series.items():
        by_indicator[ind][unit] = years
    out: Series = {}
    for ind, units in by_indicator.items():
        if ind not in rules:
            continue
        for unit, years in mark(tree=trees[ind], scope=rules[ind], series=units).items():
            out[(ind, unit)] = years
    return out


def rolled(catalog: Catalog, rows: Iterable[measurements.ValueRow], on: date) -> Series:
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
    found = [t for t in await reads.targets(session, as_of=as_of) if t.indicator in catalog.indicators]
    infos = indicator_infos(catalog)
    rules = await scopes(session, catalog, as_of=as_of)
    trees = {code: Tree(children=catalog.children, parents=catalog.parents, reporters=scope.reporters)
             for code, scope in rules.items()}
    if as_of is not None and await reads.before_kept_history(session, as_of):
        # Older than the kept rows' history (a database upgraded from the first layout): rebuilt from revisions.
        rows = await reads.values_as_of(session, as_of=as_of, end=on, timeout=report_timeout)
        series = rolled(catalog, rows, on)
        source = "revisions"
    else:
        units = _needed_units(catalog, found, trees)
        series = await reads.kept(session, units, {t.indicator for t in found}, on.year, as_of=as_of)
        source = "kept"
        # Kept rows cover whole years; a day inside a year sees only the periods ended by then.
        if any(y.period_end > on for years in series.values() for y in years.values()):
            this_year = await measurements.values(session, start=date(on.year, 1, 1), end=on, as_of=as_of)
            fresh = rolled(catalog, this_year, on)
            for key in list(series):
                series[key].pop(on.year, None)
            for key, years in fresh.items():
                if key[1] in units and on.year in years:
                    series.setdefault(key, {})[on.year] = years[on.year]
            source = "values"
    series = _marked(series, rules, trees)
    rows_out = build_rows(indicators=infos, targets=found, children=catalog.children, values=series, on=on)
    pressed = frozenset(await instructions.overdue_subjects(session, on=on, as_of=as_of))
    return Report(rows=rows_out, on=on, as_of=as_of, source=source, series=series, pressed=pressed)
