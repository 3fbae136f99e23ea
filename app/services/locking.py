"""The write path's lock check (SPEC.md "Review and locking"): a value in an approved dataset, or under an
approved ancestor's, cannot change. Checked inside the write's transaction once it holds its datasets' locks
shared (db.locks), so an approval (exclusive) either sees the write committed or makes the write see it approved."""

from collections.abc import Iterable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.db import reviews
from app.domain.catalog import Catalog
from app.domain.review import locking
from app.domain.submission import Clean, Code, Conflict
from app.errors import Conflict as ConflictError
from app.i18n import _


def datasets(catalog: Catalog, pairs: Iterable[tuple[str, int]]) -> set[tuple[str, int]]:
    """The datasets a write of these (unit, year)s falls in: each unit's own and its ancestors'."""
    return {(u, year) for unit, year in pairs for u in (unit, *catalog.ancestors(unit))}


def lock_keys(catalog: Catalog, pairs: set[tuple[str, int]]) -> set[tuple[str, int]]:
    """The dataset lock keys a write of these (unit, year)s holds shared: its units' and their ancestors', a school
    standing for its district — so a bulk batch of thousands of schools holds a dozen locks, not thousands
    (PostgreSQL's lock table is shared and bounded), and an approval of a school's dataset, which takes its
    district's key (`approval_key`), still waits for every write under it."""
    return {(approval_key(catalog, u), year) for unit, year in pairs for u in (unit, *catalog.ancestors(unit))}


def approval_key(catalog: Catalog, unit: str) -> str:
    """The unit whose dataset key stands for `unit`'s: itself for the city or a district, else its district."""
    chain = [unit, *catalog.ancestors(unit)]
    return chain[-2] if len(chain) > 2 else unit


def split_locked(catalog: Catalog, changing: Sequence[Clean], approved: dict[tuple[str, int], int]
                 ) -> tuple[list[Clean], list[Conflict]]:
    """Split rows that would change a value into those allowed and `locked` conflicts, given the approved datasets
    among theirs (read under the write's dataset locks)."""
    if not approved:
        return list(changing), []
    allowed, refused = [], []
    for r in changing:
        held = locking(r.unit, catalog.ancestors(r.unit), r.period.year, approved)
        if held is None:
            allowed.append(r)
        else:
            refused.append(Conflict(
                r.index, r.line, r.indicator, r.unit, r.period.label, Code.LOCKED,
                _("The dataset {unit}/{year} is approved: its values cannot change until an admin unlocks it.",
                  unit=held[0], year=held[1]),
            ))
    return allowed, refused


async def refuse_locked_delete(session: AsyncSession, catalog: Catalog, unit: str, year: int) -> None:
    """409 `locked` when deleting the value would change an approved dataset."""
    approved = await reviews.approved_for_write(session, datasets(catalog, [(unit, year)]))
    held = locking(unit, catalog.ancestors(unit), year, approved)
    if held is not None:
        raise ConflictError(_("The dataset {unit}/{year} is approved: this value cannot be deleted until an admin "
                              "unlocks it.", unit=held[0], year=held[1]), code="locked")
