"""Kept yearly totals: yearly_values holds the effective A(u, y) of every unit, refreshed on every write
from the touched units up to the city, so a city report reads a few hundred rows, not every value."""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import delete, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.bulk import chunks, upsert
from app.db.dialect import columns, driver, is_postgres
from app.db.models import Measurement, Unit, YearlyValue
from app.db.types import utcnow
from app.domain.catalog import Catalog
from app.domain.periods import Period, PeriodType
from app.domain.yearly import Measure, Observation, YearValue, aggregate, own_yearly

M = Measurement.__table__  # type: ignore[attr-defined]
Y = YearlyValue.__table__  # type: ignore[attr-defined]

Cell = tuple[str, str, int]  # indicator, unit, year


# PostgreSQL: the same work done where the rows are, columns passed as unnest() arrays.
OBSERVATIONS = """
SELECT m.indicator_code, m.unit_code, m.period, m.period_type, m.period_start, m.period_end, m.value, m.numerator,
       m.denominator
FROM measurements m
JOIN unnest($1::text[], $2::text[], $3::int[]) AS k(i, u, y)
  ON m.indicator_code = k.i AND m.unit_code = k.u AND m.year = k.y
WHERE NOT m.deleted
"""

YEARLY = """
INSERT INTO yearly_values (indicator_code, unit_code, year, value, numerator, denominator, period, period_end, own,
                           reported, total, updated_at)
SELECT * , $12::timestamptz FROM unnest($1::text[], $2::text[], $3::int[], $4::float8[], $5::float8[], $6::float8[],
                     $7::text[], $8::date[], $9::bool[], $10::int[], $11::int[])
ON CONFLICT (indicator_code, unit_code, year) DO UPDATE
SET value = excluded.value, numerator = excluded.numerator, denominator = excluded.denominator,
    period = excluded.period, period_end = excluded.period_end, own = excluded.own, reported = excluded.reported,
    total = excluded.total, updated_at = excluded.updated_at
"""


# The leaf case of yearly.own_yearly done where the rows are: the latest-ending period (ties: the coarsest, then
# the earliest start) for stocks and rates, the year's sum for flows. The tests run every rule on both databases,
# so this and the Python rules (used on SQLite and for units with children) are held to the same answers.
LEAF_YEARLY = """
WITH k(i, u, y) AS (SELECT * FROM unnest($1::text[], $2::text[], $3::int[])),
gone AS (
    -- Cells left without a live period (their last value was deleted) lose their yearly value.
    DELETE FROM yearly_values yv USING k
    WHERE yv.indicator_code = k.i AND yv.unit_code = k.u AND yv.year = k.y
      AND NOT EXISTS (SELECT 1 FROM measurements m WHERE m.indicator_code = k.i AND m.unit_code = k.u
                      AND m.year = k.y AND NOT m.deleted)
),
obs AS (
    SELECT m.indicator_code, m.unit_code, m.year, m.value, m.numerator, m.denominator, m.period, m.period_end,
           m.period_start, m.period_type, ind.measure
    FROM measurements m
    JOIN k ON m.indicator_code = k.i AND m.unit_code = k.u AND m.year = k.y
    JOIN indicators ind ON ind.code = m.indicator_code
    WHERE NOT m.deleted
),
latest AS (
    SELECT DISTINCT ON (indicator_code, unit_code, year) *,
           sum(value) OVER (PARTITION BY indicator_code, unit_code, year) AS total
    FROM obs
    ORDER BY indicator_code, unit_code, year, period_end DESC,
             CASE period_type WHEN 'month' THEN 1 WHEN 'quarter' THEN 2 WHEN 'semester' THEN 3 ELSE 4 END DESC,
             period_start
)
INSERT INTO yearly_values (indicator_code, unit_code, year, value, numerator, denominator, period, period_end, own,
                           reported, total, updated_at)
SELECT l.indicator_code, l.unit_code, l.year,
       CASE WHEN l.measure = 'flow' THEN l.total ELSE l.value END,
       CASE WHEN l.measure = 'flow' THEN NULL ELSE l.numerator END,
       CASE WHEN l.measure = 'flow' THEN NULL ELSE l.denominator END,
       l.period, l.period_end, true, 0, 0, $4
FROM latest l
ON CONFLICT (indicator_code, unit_code, year) DO UPDATE
SET value = excluded.value, numerator = excluded.numerator, denominator = excluded.denominator,
    period = excluded.period, period_end = excluded.period_end, own = true, reported = 0, total = 0,
    updated_at = excluded.updated_at
"""


# yearly.aggregate done where the rows are, one row per parent cell: Σn/Σd×100 over children with both (None
# when Σd = 0) for rates, Σ for stocks and flows; the period of the latest-ending child (ties: lowest unit code).
AGGREGATES = """
WITH k(i, u, y) AS (SELECT * FROM unnest($1::text[], $2::text[], $3::int[])),
kids AS (
    SELECT k.i, k.u, k.y, yv.value, yv.numerator, yv.denominator, yv.period, yv.period_end, yv.unit_code AS child,
           ind.measure
    FROM k
    JOIN indicators ind ON ind.code = k.i
    JOIN units c ON c.parent_code = k.u
    JOIN yearly_values yv ON yv.indicator_code = k.i AND yv.unit_code = c.code AND yv.year = k.y
    WHERE ind.measure <> 'rate' OR (yv.numerator IS NOT NULL AND yv.denominator IS NOT NULL)
)
SELECT i, u, y,
       CASE WHEN min(measure) = 'rate' THEN sum(numerator) / NULLIF(sum(denominator), 0) * 100
            ELSE sum(value) END,
       CASE WHEN min(measure) = 'rate' THEN sum(numerator) END,
       CASE WHEN min(measure) = 'rate' THEN sum(denominator) END,
       (array_agg(period ORDER BY period_end DESC, child))[1],
       max(period_end),
       count(*)
FROM kids GROUP BY i, u, y
"""

YEARLY_COLS = ("indicator_code", "unit_code", "year", "value", "numerator", "denominator", "period", "period_end",
               "own", "reported", "total")


async def _refresh_leaves_pg(session: AsyncSession, cells: Sequence[tuple[str, str, int]], now: Any) -> None:
    """Kept yearly values of units without children, computed and stored in one statement."""
    apg = await driver(session)
    await apg.execute(LEAF_YEARLY, [c[0] for c in cells], [c[1] for c in cells], [c[2] for c in cells], now)


async def _aggregates_pg(session: AsyncSession, cells: Sequence[tuple[str, str, int]]) -> list[Any]:
    """Per parent cell: value, numerator, denominator, period, period_end, reported."""
    apg = await driver(session)
    return list(await apg.fetch(AGGREGATES, [c[0] for c in cells], [c[1] for c in cells], [c[2] for c in cells]))


async def _observations_pg(session: AsyncSession, cells: Sequence[tuple[str, str, int]]) -> list[Any]:
    apg = await driver(session)
    return list(await apg.fetch(OBSERVATIONS, [c[0] for c in cells], [c[1] for c in cells], [c[2] for c in cells]))


async def _upsert_yearly_pg(session: AsyncSession, rows: Sequence[dict[str, Any]], now: Any) -> None:
    apg = await driver(session)
    await apg.execute(YEARLY, *columns(rows, YEARLY_COLS), now)


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
    if is_postgres(session):
        rows = [tuple(r) for r in await _observations_pg(session, sorted(cells))]
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
    for ind, unit, year, value, num, den, period, period_end, reported in await _aggregates_pg(
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
    if is_postgres(session):
        leaves = sorted(c for c in cells if not catalog.children.get(c[1]))
        if leaves:
            await _refresh_leaves_pg(session, leaves, now)
            cells = cells.difference(leaves)
        if not cells:
            return
    own = await _own(session, catalog, cells)
    summed = await _summed(session, catalog, cells) if is_postgres(session) else None
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
    if upserts and is_postgres(session):
        await _upsert_yearly_pg(session, upserts, now)
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
