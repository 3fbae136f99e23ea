"""Rebuilding kept yearly rows from the stored values — after a measure change, an upgrade, or a bulk load that
wrote children's rows directly — with the same rules and statements as every write (db.yearly)."""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.bulk import chunks
from app.db.dialect import driver, is_postgres
from app.db.yearly import Cell, M, Y, _children_shares, _lock, _state, _store, apply, record
from app.domain.catalog import Catalog
from app.domain.periods import Period, PeriodType
from app.domain.yearly import Measure, Observation, Sums, YearValue, effective, own_yearly


async def _observations(session: AsyncSession, cells: Sequence[Cell]) -> list[tuple[Any, ...]]:
    """Live periods of the given cells: (indicator, unit, label, type, start, end, value, numerator, denominator)."""
    cols = (M.c.indicator_code, M.c.unit_code, M.c.period, M.c.period_type, M.c.period_start, M.c.period_end,
            M.c.value, M.c.numerator, M.c.denominator)
    if is_postgres(session):
        apg = await driver(session)
        found = await apg.fetch(
            "SELECT m.indicator_code, m.unit_code, m.period, m.period_type, m.period_start, m.period_end, m.value, "
            "m.numerator, m.denominator FROM measurements m JOIN unnest($1::text[], $2::text[], $3::int[]) "
            "AS k(i, u, y) ON m.indicator_code = k.i AND m.unit_code = k.u AND m.year = k.y WHERE NOT m.deleted",
            [c[0] for c in cells], [c[1] for c in cells], [c[2] for c in cells])
        return [tuple(r) for r in found]
    rows: list[tuple[Any, ...]] = []
    for part in chunks(list(cells), 500):
        found = await session.execute(select(*cols).where(
            M.c.deleted.is_(False), tuple_(M.c.indicator_code, M.c.unit_code, M.c.year).in_(list(part))))
        rows.extend(tuple(r) for r in found)
    return rows


async def _own(session: AsyncSession, catalog: Catalog, cells: Sequence[Cell]) -> dict[Cell, YearValue]:
    """Each cell's own yearly value, from its unit's live periods of that year (domain.yearly.own_yearly)."""
    groups: dict[Cell, list[Observation]] = defaultdict(list)
    for ind, unit, label, ptype, start, end, value, num, den in await _observations(session, cells):
        groups[(ind, unit, end.year)].append(Observation(Period(PeriodType(ptype), label, start, end), value, num,
                                                         den))
    out = {}
    for cell, group in groups.items():
        found = own_yearly(measure=Measure(catalog.indicators[cell[0]].measure), observations=group).get(cell[2])
        if found is not None:
            out[cell] = found
    return out


async def own_values(session: AsyncSession, catalog: Catalog, cells: Sequence[Cell]) -> dict[Cell, YearValue | None]:
    """The own yearly value of each cell from its unit's live periods (None where it has none)."""
    found = await _own(session, catalog, cells)
    return {c: found.get(c) for c in cells}


async def hold_tables(session: AsyncSession) -> None:
    """Keep writers out of values and kept rows until commit (a rebuild); taken in the writers' own table order."""
    if is_postgres(session):
        await session.execute(text("LOCK TABLE measurements, yearly_values IN SHARE ROW EXCLUSIVE MODE"))


async def rebuild(session: AsyncSession, catalog: Catalog, *, now: datetime, indicator: str | None = None) -> int:
    """Recompute kept rows from the stored values (all, or one indicator's after its measure changed); the caller
    holds the tables still. Returns the number of rows written."""
    stmt = select(M.c.indicator_code, M.c.unit_code, M.c.year).where(M.c.deleted.is_(False)).distinct()
    if indicator is not None:
        stmt = stmt.where(M.c.indicator_code == indicator)
    cells = {(i, u, y) for i, u, y in await session.execute(stmt) if i in catalog.indicators}
    existing = select(Y.c.indicator_code, Y.c.unit_code, Y.c.year)
    if indicator is not None:
        existing = existing.where(Y.c.indicator_code == indicator)
    stale = {tuple(r) for r in await session.execute(existing)}
    # Start every row over from nothing, then replay each cell as if it had just been written.
    blank = _state(None, Sums(), None, 0)
    rows = [{"indicator_code": i, "unit_code": u, "year": y, **blank,
             "total": len(catalog.children.get(u, ())), "updated_at": now} for i, u, y in sorted(stale)]
    await _store(session, rows)
    changes = await apply(session, catalog, await own_values(session, catalog, sorted(cells)), now=now)
    await _store(session, changes.unstored)
    await record(session, [*rows, *changes.states], recorded_at=now)
    return len(changes.states)


async def resum(session: AsyncSession, catalog: Catalog, cells: Iterable[Cell], *, now: datetime) -> list[
        dict[str, Any]]:
    """Recompute parent cells' sums from their children's kept rows (one level, the caller's order of levels);
    for bulk loads that wrote the children's rows directly. Returns the changed states, for `record`."""
    ordered = sorted(set(cells))
    rows = await _lock(session, catalog, ordered, now)
    sums = await _children_shares(session, catalog, ordered)
    changed = []
    for cell in ordered:
        ind, unit, year = cell
        total = len(catalog.children.get(unit, ()))
        value = effective(measure=Measure(catalog.indicators[ind].measure), year=year, own=rows[cell].own,
                          sums=sums[cell], total=total)
        changed.append({"indicator_code": ind, "unit_code": unit, "year": year,
                        **_state(rows[cell].own, sums[cell], value, total), "updated_at": now})
    await _store(session, changed)
    return changed
