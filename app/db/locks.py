"""PostgreSQL transaction advisory locks, named in one place (SQLite's single writer needs none).

- a cell (indicator, unit, year), exclusive: writers of the same unit's values of one indicator and year, so a
  revision knows the value it replaces;
- an (indicator, year), shared by small writes and exclusive for bulk ones (over BULK_CELLS cells), which keeps
  PostgreSQL's shared lock table bounded;
- a dataset (unit, year), shared by every write for its unit and each ancestor, exclusive for an approval: a write
  in flight when a dataset is approved either commits before the approval reads it or sees it approved. A school
  is keyed by its district (services.locking.lock_keys), which bounds a bulk batch's locks.
"""

from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.dialect import driver, is_postgres

BULK_CELLS = 64

_LOCK = """
SELECT CASE WHEN shared THEN pg_advisory_xact_lock_shared(hashtextextended(n, 0))
            ELSE pg_advisory_xact_lock(hashtextextended(n, 0)) END
FROM unnest($1::bool[], $2::text[]) AS t(shared, n) ORDER BY n, shared
"""


def dataset(unit: str, year: int) -> str:
    return f"dataset\x1f{unit}\x1f{year}"


def plan(cells: Iterable[tuple[str, str, int]], datasets: Iterable[tuple[str, int]]) -> tuple[list[bool], list[str]]:
    """The locks a write of these cells takes: (shared?, name) in the one global order (by name)."""
    wanted = set(cells)
    years = {f"{i}\x1f{y}" for i, _, y in wanted}
    locks: dict[str, bool] = {dataset(u, y): True for u, y in set(datasets)}
    if len(wanted) > BULK_CELLS:
        locks.update({n: False for n in years})
    else:
        locks.update({n: True for n in years})
        locks.update({f"{i}\x1f{u}\x1f{y}": False for i, u, y in wanted})
    names = sorted(locks)
    return [locks[n] for n in names], names


async def for_write(session: AsyncSession, cells: Iterable[tuple[str, str, int]],
                    datasets: Iterable[tuple[str, int]]) -> None:
    """Take a write's locks, held until commit, in one statement."""
    if not is_postgres(session):
        return
    shared, names = plan(cells, datasets)
    if names:
        apg = await driver(session)
        await apg.execute(_LOCK, shared, names)


async def approving(session: AsyncSession, unit: str, year: int) -> None:
    """Hold a dataset exclusively until commit: every write of it in flight finishes first, none starts."""
    if is_postgres(session):
        await session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:n, 0))"),
                              {"n": dataset(unit, year)})
