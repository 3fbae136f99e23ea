"""Review rows and their history. A write and an approval of the same dataset never interleave: writes hold the
dataset's advisory lock shared before they read its review rows, an approval holds it exclusively (db.locks;
SQLite's single writer serialises them anyway)."""

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.db.bulk import chunks
from app.db.dialect import is_postgres
from app.db.models import Measurement, Review, ReviewEvent
from app.db.types import utcnow
from app.domain.review import ReviewState

M = Measurement.__table__  # type: ignore[attr-defined]
RV = Review.__table__  # type: ignore[attr-defined]


async def approved_for_write(session: AsyncSession, datasets: Iterable[tuple[str, int]]) -> dict[tuple[str, int], int]:
    """The approved datasets among the given (unit, year) pairs (read after the write's dataset locks)."""
    found: dict[tuple[str, int], int] = {}
    for part in chunks(sorted(set(datasets))):
        stmt = select(RV.c.unit_code, RV.c.year, RV.c.state, RV.c.id).where(
            tuple_(RV.c.unit_code, RV.c.year).in_(list(part)))
        for unit, year, state, rid in await session.execute(stmt):
            if state == ReviewState.APPROVED:
                found[(unit, year)] = rid
    return found


async def get(session: AsyncSession, review_id: int, *, exclusive: bool = False) -> Review | None:
    """A review row; `exclusive` holds it against writers and other transitions until commit."""
    stmt = select(Review).where(col(Review.id) == review_id)
    if exclusive and is_postgres(session):
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalars().first()


async def find(session: AsyncSession, unit: str, year: int, *, exclusive: bool = False) -> Review | None:
    stmt = select(Review).where(col(Review.unit_code) == unit, col(Review.year) == year)
    if exclusive and is_postgres(session):
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalars().first()


async def states(session: AsyncSession, pairs: Sequence[tuple[str, int]]) -> dict[tuple[str, int], str]:
    out: dict[tuple[str, int], str] = {}
    for part in chunks(sorted(set(pairs))):
        for unit, year, state in await session.execute(
                select(RV.c.unit_code, RV.c.year, RV.c.state).where(tuple_(RV.c.unit_code, RV.c.year).in_(list(part)))):
            out[(unit, year)] = state
    return out


def record(session: AsyncSession, review: Review, *, action: str, comment: str | None, key_name: str,
           request_id: str | None, digest: str | None = None, key_id: int | None = None,
           client_request_id: str | None = None) -> None:
    """Append one transition in the caller's transaction."""
    assert review.id is not None
    review.updated_at = utcnow()
    session.add(ReviewEvent(review_id=review.id, action=action, state=review.state, comment=comment,
                            key_name=key_name, request_id=request_id, digest=digest, key_id=key_id,
                            client_request_id=client_request_id))


async def digest(session: AsyncSession, units: Iterable[str], year: int) -> str:
    """A fingerprint of every live value of the dataset: what an approval saw."""
    h = hashlib.sha256()
    rows: list[tuple[Any, ...]] = []
    for part in chunks(sorted(set(units))):
        rows.extend(tuple(r) for r in await session.execute(
            select(M.c.indicator_code, M.c.unit_code, M.c.period, M.c.value, M.c.numerator, M.c.denominator)
            .where(M.c.year == year, M.c.deleted.is_(False), M.c.unit_code.in_(list(part)))))
    for r in sorted(rows):
        h.update(repr(r).encode())
    return h.hexdigest()


async def listing(session: AsyncSession, *, units: set[str] | None, year: int | None, state: str | None
                  ) -> list[Review]:
    stmt = select(Review).order_by(col(Review.year), col(Review.unit_code))
    if year is not None:
        stmt = stmt.where(col(Review.year) == year)
    if state is not None:
        stmt = stmt.where(col(Review.state) == state)
    found = list((await session.execute(stmt)).scalars())
    return [r for r in found if units is None or r.unit_code in units]


async def history(session: AsyncSession, review_ids: Sequence[int]) -> dict[int, list[ReviewEvent]]:
    out: dict[int, list[ReviewEvent]] = {i: [] for i in review_ids}
    for part in chunks(sorted(set(review_ids))):
        for e in (await session.execute(select(ReviewEvent).where(col(ReviewEvent.review_id).in_(list(part)))
                                        .order_by(col(ReviewEvent.id)))).scalars():
            out[e.review_id].append(e)
    return out
