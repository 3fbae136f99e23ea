"""Set-based helpers that work on SQLite and PostgreSQL alike."""

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import Table, cast, func, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")

# Both drivers cap bound parameters per statement (asyncpg 32767); stay well below.
CHUNK = 2000


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most `size` items."""
    for i in range(0, len(items), size):
        yield items[i : i + size]


def upsert(session: AsyncSession, table: Table) -> Any:
    """The dialect's INSERT that supports ON CONFLICT."""
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def cells_in(session: AsyncSession, columns: Sequence[Any], keys: Sequence[tuple[Any, ...]],
             types: Sequence[Any]) -> list[Any]:
    """Conditions `(columns) IN keys`, one per statement to run: on PostgreSQL one, the keys passed as arrays
    (unnest), so a batch of thousands costs three parameters; on SQLite, which has no arrays, one per chunk."""
    if not keys:
        return []
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        arrays = [cast(list(col), ARRAY(t)) for col, t in zip(zip(*keys, strict=True), types, strict=True)]
        rows = func.unnest(*arrays).table_valued(*(f"k{n}" for n in range(len(types)))).render_derived()
        return [tuple_(*columns).in_(select(*rows.c))]
    return [tuple_(*columns).in_(list(part)) for part in chunks(keys, 500)]
