"""Quality flags: which yearly values a write touches, what the rules find there, the POST answer's
warnings, and keeping the flags in step — run by the roll-up, outside the write."""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import quality as store
from app.db.models import QualityFlag
from app.domain.catalog import Catalog
from app.domain.keys import Principal, Role
from app.domain.quality import Finding, peers_of_all, yoy
from app.errors import Conflict, Forbidden, NotFound
from app.i18n import _

Cell = tuple[str, str, int]
log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Found:
    cell: Cell
    finding: Finding


Group = tuple[str, str | None, int]  # indicator, parent (None: the root), year


def _groups(catalog: Catalog, cells: Iterable[Cell], *, upward: bool) -> set[Group]:
    """The sibling groups whose flags a change of these cells can move: each unit's own group and, with
    `upward`, its ancestors' (their aggregates changed) and the next year's (its previous value changed)."""
    out: set[Group] = set()
    for ind, unit, year in cells:
        chain = (unit, *catalog.ancestors(unit)) if upward else (unit,)
        for u in chain:
            parent = catalog.parents.get(u)
            out.add((ind, parent, year))
            if upward:
                out.add((ind, parent, year + 1))
    return out


async def evaluate(session: AsyncSession, catalog: Catalog, groups: set[Group],
                   values: dict[Cell, float] | None = None) -> tuple[list[Found], set[Cell]]:
    """Findings on every unit of the given sibling groups (on their kept own values, or on `values`), and the
    cells looked at."""
    if values is None:
        values = await store.group_values(session, groups | {(i, p, y - 1) for i, p, y in groups})
    members: dict[Group, dict[str, float]] = defaultdict(dict)
    for (ind, unit, year), v in values.items():
        members[(ind, catalog.parents.get(unit), year)][unit] = v
    found: list[Found] = []
    looked: set[Cell] = set()
    for group in sorted(groups, key=lambda g: (g[0], g[1] or "", g[2])):
        ind, _, year = group
        if ind not in catalog.indicators:
            continue
        info = catalog.indicators[ind]
        here = members.get(group, {})
        far = peers_of_all(here)
        for unit, current in sorted(here.items()):
            cell = (ind, unit, year)
            looked.add(cell)
            jump = yoy(rate=info.measure == "rate", previous=values.get((ind, unit, year - 1)), current=current,
                       max_change=info.max_yoy_change, max_points=info.max_yoy_points)
            found.extend(Found(cell, f) for f in (jump, far.get(unit)) if f is not None)
    return found, looked


async def keep(session: AsyncSession, catalog: Catalog, changed: Iterable[Cell]) -> None:
    """Re-evaluate every flag a change touches: open or update what is found, clear what no longer is."""
    changed = set(changed)
    groups = _groups(catalog, changed, upward=True)
    found, looked = await evaluate(session, catalog, groups)
    cells = looked | {(i, u, y) for i, u0, y0 in changed for u in (u0, *catalog.ancestors(u0)) for y in (y0, y0 + 1)}
    existing = await store.flags_of(session, sorted(cells))
    seen = set()
    for f in found:
        key = (*f.cell, f.finding.code)
        seen.add(key)
        store.upsert(session, existing.get(key), f.cell, f.finding.code, f.finding.value, f.finding.figures)
    for key, flag in existing.items():
        if key not in seen:
            store.clear(flag)
    await session.flush()


async def confirm(session: AsyncSession, catalog: Catalog, flag_id: int, note: str, caller: Principal
                  ) -> QualityFlag:
    """The unit's district, a reviewer or admin confirms a flag with a note (the value is right)."""
    flag = await session.get(QualityFlag, flag_id)
    if flag is None:
        raise NotFound(_("No quality flag {id}.", id=flag_id))
    if caller.role == Role.DISTRICT:
        if flag.unit_code not in catalog.subtree(caller.unit_code or ""):
            raise Forbidden(_("This key confirms only flags of its own district and the units under it."))
    elif caller.role not in (Role.ADMIN, Role.REVIEWER):
        raise Forbidden(_("Only the unit's district, a reviewer or an admin confirms a quality flag."))
    if flag.state != "open":
        raise Conflict(_("This flag is {state}; only an open flag is confirmed.", state=flag.state),
                       code="flag_state")
    flag.state, flag.note, flag.confirmed_by = "confirmed", note, caller.name
    await session.flush()
    return flag
