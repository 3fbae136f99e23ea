"""Bulk loads of kept yearly rows: holding writers out while kept rows are rebuilt (services.rollup.rebuild), and
summing parents from children's rows that a bulk load wrote directly (the benchmarks' data sets)."""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.dialect import is_postgres
from app.db.yearly import Cell, _children_shares, _lock, _state, _store
from app.domain.catalog import Catalog
from app.domain.yearly import Measure, effective


async def hold_tables(session: AsyncSession) -> None:
    """Keep writers out of values and kept rows until commit (a rebuild); taken in the writers' own table order."""
    if is_postgres(session):
        await session.execute(text("LOCK TABLE measurements, yearly_values IN SHARE ROW EXCLUSIVE MODE"))


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
