"""Who has reported what for a year (SPEC.md "Completeness"): each (indicator, reporter) on time, late, missing or
not due, from the kept yearly rows of the reporters and their ancestors (never a scan of every value) and the
time each reporter's year was first covered (its values' first revisions)."""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import measurements, yearly
from app.db.bulk import chunks
from app.db.models import MeasurementRevision, YearlyValue
from app.db.reporters import scopes
from app.domain.catalog import Catalog
from app.domain.completeness import Tree, completed_at, mark
from app.domain.periods import SHANGHAI
from app.domain.reporting import State, due_date, state
from app.domain.yearly import Measure, YearValue
from app.services.attainment import rolled

Y = YearlyValue.__table__  # type: ignore[attr-defined]
R = MeasurementRevision.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Item:
    indicator: str
    unit: str
    year: int
    due: date
    state: State
    completed_at: datetime | None
    value: float | None


async def _kept(session: AsyncSession, catalog: Catalog, inds: Sequence[str], units: Iterable[str], year: int
                ) -> dict[str, dict[str, dict[int, YearValue]]]:
    out: dict[str, dict[str, dict[int, YearValue]]] = defaultdict(dict)
    for row in (await yearly.kept_rows(session, indicators=inds, years=[year], units=units)).values():
        if row.value is not None:  # an own value says whether it covers the year (kept with the row)
            out[row.indicator][row.unit] = {year: row.value}
    return out


async def _past(session: AsyncSession, catalog: Catalog, inds: Sequence[str], year: int, as_of: datetime
                ) -> dict[str, dict[str, dict[int, YearValue]]]:
    rows = [r for r in await measurements.values(session, start=date(year, 1, 1), end=date(year, 12, 31), as_of=as_of)
            if r.indicator in inds]
    out: dict[str, dict[str, dict[int, YearValue]]] = defaultdict(dict)
    for (ind, unit), years in rolled(catalog, rows, date(year, 12, 31)).items():
        if year in years:
            out[ind][unit] = {year: years[year]}
    return out


async def _covered(session: AsyncSession, catalog: Catalog, inds: Sequence[str], units: Iterable[str], year: int,
                   as_of: datetime | None) -> dict[str, dict[tuple[str, int], datetime]]:
    """When each unit's own values of the year were first stored: the first period for a stock or a rate, the
    last of the periods for a flow (it needs them all)."""
    first: dict[tuple[str, str], list[datetime]] = defaultdict(list)
    for part in chunks(sorted(set(units))):
        stmt = (select(R.c.indicator_code, R.c.unit_code, R.c.period, func.min(R.c.recorded_at))
                .where(R.c.year == year, R.c.action == "create", R.c.indicator_code.in_(list(inds)),
                       R.c.unit_code.in_(list(part)))
                .group_by(R.c.indicator_code, R.c.unit_code, R.c.period))
        if as_of is not None:
            stmt = stmt.where(R.c.recorded_at <= as_of)
        for ind, unit, _period, at in await session.execute(stmt):
            first[(ind, unit)].append(at)
    out: dict[str, dict[tuple[str, int], datetime]] = defaultdict(dict)
    for (ind, unit), times in first.items():
        out[ind][(unit, year)] = max(times) if catalog.indicators[ind].measure == Measure.FLOW else min(times)
    return out


async def items(
    session: AsyncSession, catalog: Catalog, *, year: int, on: date, as_of: datetime | None,
    indicators: Sequence[str] | None = None, within: set[str] | None = None,
) -> list[Item]:
    """Every (indicator, reporter) of the year, reporters limited to `within` when given."""
    rules = await scopes(session, catalog, as_of=as_of)
    inds = sorted(indicators if indicators is not None else catalog.indicators)
    trees = {i: Tree(children=catalog.children, parents=catalog.parents, reporters=rules[i].reporters) for i in inds}
    units = {u for t in trees.values() for u in t.relevant}
    series = (await _kept(session, catalog, inds, units, year) if as_of is None
              else await _past(session, catalog, inds, year, as_of))
    covered = await _covered(session, catalog, inds, units, year, as_of)
    out = []
    for ind in inds:
        scope, tree = rules[ind], trees[ind]
        marked = mark(tree=tree, scope=scope, series=series.get(ind, {}))
        due = due_date(year, catalog.indicators[ind].due_days)
        for unit in sorted(scope.reporters):
            if within is not None and unit not in within:
                continue
            held = marked.get(unit, {}).get(year)
            at = completed_at(tree=tree, scope=scope, series=marked, covered=covered.get(ind, {}), unit=unit, year=year)
            done_on = at.astimezone(SHANGHAI).date() if at is not None else None
            out.append(Item(ind, unit, year, due, state(complete=held is not None and held.complete,
                                                        completed_on=done_on, due=due, on=on),
                            at, held.value if held is not None else None))
    return out
