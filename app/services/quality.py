"""Quality flags: which yearly values a write touches, what the rules find there, the POST answer's
warnings, and keeping the flags in step — run after the write has committed, outside its locks."""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import quality as store
from app.db.catalog import CatalogCache
from app.db.models import QualityFlag
from app.domain.catalog import Catalog
from app.domain.keys import Principal, Role
from app.domain.quality import Finding, peers, yoy
from app.domain.submission import Clean
from app.errors import Conflict, Forbidden, NotFound

Cell = tuple[str, str, int]
log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Found:
    cell: Cell
    finding: Finding


def touched(catalog: Catalog, cells: Iterable[Cell]) -> set[Cell]:
    """Every yearly value whose flags a change of these cells can move: the units and their ancestors (their
    aggregates changed), the next year of each (its previous changed), and their siblings (their peers did)."""
    out: set[Cell] = set()
    for ind, unit, year in cells:
        for u in (unit, *catalog.ancestors(unit)):
            out.update({(ind, u, year), (ind, u, year + 1)})
            parent = catalog.parents.get(u)
            if parent is not None:
                out.update((ind, s, year) for s in catalog.children.get(parent, ()))
    return out


async def evaluate(session: AsyncSession, catalog: Catalog, cells: set[Cell]) -> tuple[list[Found], set[Cell]]:
    """Findings on the given cells, and the cells that were evaluated (those with a value)."""
    needed = set(cells)
    for ind, unit, year in cells:
        needed.add((ind, unit, year - 1))
        parent = catalog.parents.get(unit)
        if parent is not None:
            needed.update((ind, s, year) for s in catalog.children.get(parent, ()))
    values = await store.yearly(session, needed)
    found: list[Found] = []
    evaluated = set()
    for cell in sorted(cells):
        ind, unit, year = cell
        if cell not in values or ind not in catalog.indicators:
            continue
        evaluated.add(cell)
        info = catalog.indicators[ind]
        current = values[cell]
        jump = yoy(rate=info.measure == "rate", previous=values.get((ind, unit, year - 1)), current=current,
                   max_change=info.max_yoy_change, max_points=info.max_yoy_points)
        parent = catalog.parents.get(unit)
        others = [values[(ind, s, year)] for s in catalog.children.get(parent, ()) if s != unit
                  and (ind, s, year) in values] if parent is not None else []
        far = peers(current=current, siblings=others)
        found.extend(Found(cell, f) for f in (jump, far) if f is not None)
    return found, evaluated


async def keep(session: AsyncSession, catalog: Catalog, changed: Iterable[Cell]) -> None:
    """Re-evaluate every flag a change touches: open or update what is found, clear what no longer is."""
    cells = touched(catalog, changed)
    found, _ = await evaluate(session, catalog, cells)
    existing = await store.flags_of(session, sorted(cells))
    seen = set()
    for f in found:
        key = (*f.cell, f.finding.code)
        seen.add(key)
        store.upsert(session, existing.get(key), f.cell, f.finding.code, f.finding.value, f.finding.figures)
    for key, flag in existing.items():
        if key not in seen and (key[:3] in cells):
            store.clear(flag)
    await session.flush()


async def keep_after_commit(sessions: async_sessionmaker[AsyncSession], catalogs: CatalogCache,
                            changed: set[Cell]) -> None:
    """Keep the flags a committed write touched, in a transaction of its own (never inside the write's locks).
    A failure here loses no value: the next change of the same cells re-evaluates them."""
    try:
        async with sessions() as session, session.begin():
            await keep(session, await catalogs.snapshot(session), changed)
    except Exception:  # noqa: BLE001 - the answer is sent; a flag is advice, never worth a failed request
        log.warning("quality_flags_not_kept", cells=len(changed), exc_info=True)


async def warnings(session: AsyncSession, catalog: Catalog, rows: Sequence[Clean]) -> list[dict[str, Any]]:
    """The POST answer's warnings: findings on the yearly value of each written row's own unit and year."""
    by_cell: dict[Cell, list[int]] = defaultdict(list)
    for r in rows:
        by_cell[(r.indicator, r.unit, r.period.year)].append(r.index)
    found, _ = await evaluate(session, catalog, set(by_cell))
    return [{"index": i, "code": f.finding.code, "detail": f.finding.detail}
            for f in found for i in by_cell[f.cell]]


async def confirm(session: AsyncSession, catalog: Catalog, flag_id: int, note: str, caller: Principal
                  ) -> QualityFlag:
    """The unit's district, a reviewer or admin confirms a flag with a note (the value is right)."""
    flag = await session.get(QualityFlag, flag_id)
    if flag is None:
        raise NotFound(f"No quality flag {flag_id}.")
    if caller.role == Role.DISTRICT:
        if flag.unit_code not in catalog.subtree(caller.unit_code or ""):
            raise Forbidden("This key confirms only flags of its own district and the units under it.")
    elif caller.role not in (Role.ADMIN, Role.REVIEWER):
        raise Forbidden("Only the unit's district, a reviewer or an admin confirms a quality flag.")
    if flag.state != "open":
        raise Conflict(f"This flag is {flag.state}; only an open flag is confirmed.", code="flag_state")
    flag.state, flag.note, flag.confirmed_by = "confirmed", note, caller.name
    await session.flush()
    return flag
