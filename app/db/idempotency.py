"""Idempotency keys: one effect per (API key, Idempotency-Key); the first answer is replayed."""

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from app.db.models import IdempotencyRecord
from app.db.types import utcnow

MAX_KEY_LENGTH = 255


class ClaimState(StrEnum):
    NEW = "new"
    REPLAY = "replay"
    IN_FLIGHT = "in_flight"
    MISMATCH = "mismatch"


@dataclass(frozen=True, slots=True)
class Claim:
    state: ClaimState
    status_code: int | None = None
    body: str | None = None
    media_type: str | None = None


def fingerprint(*, body: bytes, content_type: str, query: str) -> str:
    """What makes two requests 'the same': body, content type and query string."""
    h = hashlib.sha256()
    for part in (content_type.encode(), b"\0", query.encode(), b"\0", body):
        h.update(part)
    return h.hexdigest()


async def claim(
    write_sessions: async_sessionmaker[AsyncSession], *, key_id: int, key: str, fp: str, lease_s: int, ttl_h: int
) -> Claim:
    """Take the key for this request (committed at once, so concurrent requests see it) or say why not."""
    now = utcnow()
    async with write_sessions() as s, s.begin():
        where = (col(IdempotencyRecord.api_key_id) == key_id, col(IdempotencyRecord.key) == key)
        row = (await s.execute(select(IdempotencyRecord).where(*where))).scalar_one_or_none()
        if row is not None and row.created_at < now - timedelta(hours=ttl_h):
            await s.execute(delete(IdempotencyRecord).where(*where))
            row = None
        if row is None:
            try:
                async with s.begin_nested():
                    s.add(IdempotencyRecord(api_key_id=key_id, key=key, fingerprint=fp, state="in_flight",
                                            created_at=now, lease_until=now + timedelta(seconds=lease_s)))
                return Claim(ClaimState.NEW)
            except IntegrityError:
                # Another request inserted the same key between our read and write.
                return Claim(ClaimState.IN_FLIGHT)
        if row.fingerprint != fp:
            return Claim(ClaimState.MISMATCH)
        if row.state == "done":
            return Claim(ClaimState.REPLAY, row.status_code, row.body, row.media_type)
        if row.lease_until > now:
            return Claim(ClaimState.IN_FLIGHT)
        # The earlier holder died without answering: its lease ran out, so this request takes over.
        taken = await s.execute(
            update(IdempotencyRecord).where(*where, col(IdempotencyRecord.lease_until) == row.lease_until)
            .values(lease_until=now + timedelta(seconds=lease_s))
        )
        return Claim(ClaimState.NEW if taken.rowcount == 1 else ClaimState.IN_FLIGHT)  # type: ignore[attr-defined]


async def finish(
    session: AsyncSession, *, key_id: int, key: str, status_code: int, body: str, media_type: str
) -> None:
    """Store the answer in the request's own transaction, so effect and record commit together."""
    await session.execute(
        update(IdempotencyRecord)
        .where(col(IdempotencyRecord.api_key_id) == key_id, col(IdempotencyRecord.key) == key)
        .values(state="done", status_code=status_code, body=body, media_type=media_type)
    )


async def release(write_sessions: async_sessionmaker[AsyncSession], *, key_id: int, key: str) -> None:
    """Give the key back after a failure (5xx) so a retry can run at once."""
    async with write_sessions() as s, s.begin():
        await s.execute(delete(IdempotencyRecord).where(
            col(IdempotencyRecord.api_key_id) == key_id, col(IdempotencyRecord.key) == key,
            col(IdempotencyRecord.state) == "in_flight",
        ))
