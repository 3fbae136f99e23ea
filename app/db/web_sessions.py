"""Leaders' page sessions in the database, so that every worker and replica agrees the moment one is revoked.

The id is a random token that lives only in the (signed) cookie; the table keeps its SHA-256, so a copy of the
table opens no session. Expired rows are swept when a session opens: the table holds about a day of sign-ins.
"""

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.db.models import WebSession
from app.db.types import utcnow

W = WebSession.__table__  # type: ignore[attr-defined]


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


async def open_session(engine: AsyncEngine, key_id: int, *, lasts: timedelta) -> str:
    """A new session of `key_id` valid for `lasts`; returns its id (for the cookie only)."""
    session_id = secrets.token_urlsafe(32)
    now = utcnow()
    async with engine.begin() as conn:
        await conn.execute(delete(W).where(W.c.expires_at < now))
        await conn.execute(W.insert().values(id_hash=_hash(session_id), key_id=key_id, created_at=now,
                                             expires_at=now + lasts))
    return session_id


async def key_of(conn: AsyncConnection, session_id: str, *, now: datetime | None = None) -> int | None:
    """The key id of a live session (neither revoked nor expired), else None."""
    found = (await conn.execute(
        select(W.c.key_id).where(W.c.id_hash == _hash(session_id)).where(W.c.revoked_at.is_(None))
        .where(W.c.expires_at > (now or utcnow()))
    )).scalar()
    return None if found is None else int(found)


async def revoke(engine: AsyncEngine, session_id: str) -> None:
    """End a session for good (signing out)."""
    async with engine.begin() as conn:
        await conn.execute(update(W).where(W.c.id_hash == _hash(session_id)).where(W.c.revoked_at.is_(None))
                           .values(revoked_at=utcnow()))
