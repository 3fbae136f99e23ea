"""Kept yearly totals: yearly_values holds the effective A(u, y) of every unit, refreshed on every write
from the touched units up to the city, so a city report reads a few hundred rows, not every value."""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from sqlalchemy import delete, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import pgbulk
from app.db.bulk import chunks, upsert
from app.db.catalog import Catalog
from app.db.models import Measurement, Unit, YearlyValue
from app.db.types import utcnow
from app.domain.periods import Period, PeriodType
from app.domain.yearly import Measure, Observation, YearValue, aggregate, own_yearly

M = Measurement.__table__  # type: ignore[attr-defined]
Y = YearlyValue.__table__  # type: ignore[attr-defined]

Cell = tuple[str, str, int]  # indicator, unit, year


def _depth(catalog: Catalog, unit: str) -> int:
    return len(catalog.ancestors(unit))


async def refresh(session: AsyncSession, catalog: Catalog, touched: Iterable[Cell]) -> None:
    """Recompute the touched cells and every ancestor cell, deepest units first."""
    pending: dict[int, set[Cell]] = defaultdict(set)
    for cell in touched:
        pending[_depth(catalog, cell[1])].add(cell)
    while pending:
        depth = max(pending)
        cells = pending.pop(depth)
        await _refresh_level(session, catalog, cells)
        for ind, unit, year in cells:
            parent = catalog.units[unit].parent_code if unit in catalog.units else None
            if parent:
                pending[depth - 1].add((ind, parent, year))


async def refresh_indicator(session: AsyncSession, catalog: Catalog, indicator: str) -> None:
    """Recompute every kept yearly value of one indicator (after its measure changed)."""
    cells = await session.execute(
        select(M.c.unit_code, M.c.year).where(M.c.indicator_code == indicator, M.c.deleted.is_(False)).distinct()
    )
    await refresh(session, catalog, {(indicator, unit, year) for unit, year in cells})


async def _own(session: AsyncSession, catalog: Catalog, cells: set[Cell]) -> dict[Cell, YearValue]:
    """Each cell's own yearly value from its unit's live periods of that year."""
    rows: list[tuple[Any, ...]]
    if pgbulk.is_postgres(session):
        rows = [tuple(r) for r in await pgbulk.observations(session, sorted(cells))]
    else:
        rows = []
        inds = sorted({c[0] for c in cells})
        years = sorted({c[2] for c in cells})
        for part in chunks(sorted({c[1] for c in cells})):
            found = await session.execute(
                select(M.c.indicator_code, M.c.unit_code, M.c.period, M.c.period_type, M.c.period_start,
                       M.c.period_end, M.c.value, M.c.numerator, M.c.denominator)
                .where(M.c.deleted.is_(False), M.c.indicator_code.in_(inds), M.c.year.in_(years),
                       M.c.unit_code.in_(list(part)))
            )
            rows.extend(tuple(r) for r in found)
    groups: dict[Cell, list[tuple[Any, ...]]] = defaultdict(list)
    for r in rows:
        cell = (r[0], r[1], r[5].year)
        if cell in cells:
            groups[cell].append(r)
    out: dict[Cell, YearValue] = {}
    for cell, group in groups.items():
        flow = catalog.indicators[cell[0]].measure == Measure.FLOW
        if len(group) == 1:
            # The common case — one period in the year — needs none of the rules' machinery.
            _, _, label, _, _, end, value, num, den = group[0]
            out[cell] = YearValue(cell[2], value, None if flow else num, None if flow else den, label, end, True)
            continue
        observations = [Observation(Period(PeriodType(pt), label, start, end), value, num, den)
                        for _, _, label, pt, start, end, value, num, den in group]
        measure = Measure(catalog.indicators[cell[0]].measure)
        computed = own_yearly(measure=measure, observations=observations).get(cell[2])
        if computed is not None:
            out[cell] = computed
    return out


async def _summed(session: AsyncSession, catalog: Catalog, cells: set[Cell]) -> dict[Cell, YearValue]:
    """Children's values aggregated by PostgreSQL: one row per cell, however many children (schools) it has."""
    out = {}
    for ind, unit, year, value, num, den, period, period_end, reported in await pgbulk.aggregates(
        session, sorted(c for c in cells if catalog.children.get(c[1]))
    ):
        if value is not None:
            out[(ind, unit, year)] = YearValue(year, value, num, den, period, period_end, False, reported,
                                               len(catalog.children.get(unit, ())))
    return out


async def _children(session: AsyncSession, catalog: Catalog, cells: set[Cell]) -> dict[Cell, YearValue]:
    parents = sorted({unit for _, unit, _ in cells if catalog.children.get(unit)})
    if not parents:
        return {}
    inds = sorted({c[0] for c in cells})
    years = sorted({c[2] for c in cells})
    U = Unit.__table__  # type: ignore[attr-defined]
    # By parent, not by a list of thousands of child codes: one small, indexable query.
    kids = select(U.c.code).where(U.c.parent_code.in_(parents))
    rows = await session.execute(
        select(Y.c.indicator_code, Y.c.unit_code, Y.c.year, Y.c.value, Y.c.numerator, Y.c.denominator, Y.c.period,
               Y.c.period_end, Y.c.own, Y.c.reported, Y.c.total)
        .where(Y.c.indicator_code.in_(inds), Y.c.year.in_(years), Y.c.unit_code.in_(kids))
    )
    return {
        (ind, unit, year): YearValue(year, value, num, den, period, period_end, own_flag, reported, total)
        for ind, unit, year, value, num, den, period, period_end, own_flag, reported, total in rows
    }


async def _refresh_level(session: AsyncSession, catalog: Catalog, cells: set[Cell]) -> None:
    now = utcnow()
    if pgbulk.is_postgres(session):
        leaves = sorted(c for c in cells if not catalog.children.get(c[1]))
        if leaves:
            await pgbulk.refresh_leaves(session, leaves, now)
            cells = cells.difference(leaves)
        if not cells:
            return
    own = await _own(session, catalog, cells)
    summed = await _summed(session, catalog, cells) if pgbulk.is_postgres(session) else None
    kids = await _children(session, catalog, cells) if summed is None else {}
    upserts, gone = [], []
    for cell in cells:
        ind, unit, year = cell
        children = catalog.children.get(unit, [])
        found = own.get(cell)
        if found is None and summed is not None:
            found = summed.get(cell)
        elif found is None:
            values = [kids[(ind, k, year)] for k in children if (ind, k, year) in kids]
            found = aggregate(measure=Measure(catalog.indicators[ind].measure), year=year, children=values,
                              total=len(children)) if values else None
        if found is None:
            gone.append(cell)
            continue
        found = replace(found, year=year)
        upserts.append({
            "indicator_code": ind, "unit_code": unit, "year": year, "value": found.value,
            "numerator": found.numerator, "denominator": found.denominator, "period": found.period,
            "period_end": found.period_end, "own": found.own, "reported": found.reported, "total": found.total,
            "updated_at": now,
        })
    for part in chunks(gone):
        await session.execute(delete(Y).where(tuple_(Y.c.indicator_code, Y.c.unit_code, Y.c.year).in_(list(part))))
    if upserts and pgbulk.is_postgres(session):
        await pgbulk.upsert_yearly(session, upserts, now)
    elif upserts:
        insert = upsert(session, Y)
        insert = insert.on_conflict_do_update(
            index_elements=[Y.c.indicator_code, Y.c.unit_code, Y.c.year],
            set_={c: insert.excluded[c] for c in
                  ("value", "numerator", "denominator", "period", "period_end", "own", "reported", "total",
                   "updated_at")},
        )
        for batch in chunks(upserts, 1000):
            await session.execute(insert, list(batch))
