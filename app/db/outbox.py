"""The outbox in the store: one sender at a time per channel (a lease on the channel row, so the per-minute limit
holds across processes), the rows due, each attempt recorded, depth and age for the metrics."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.dialect import is_postgres
from app.db.notify_models import Channel, ChannelSecret, DeliveryAttempt, Notification, OutboxRow

C = Channel.__table__  # type: ignore[attr-defined]
CS = ChannelSecret.__table__  # type: ignore[attr-defined]
O = OutboxRow.__table__  # type: ignore[attr-defined]  # noqa: E741
A = DeliveryAttempt.__table__  # type: ignore[attr-defined]
N = Notification.__table__  # type: ignore[attr-defined]
UNDELIVERED = ("pending",)
# The first key of the two-key advisory locks that claim a channel for a sender (the second is the channel id).
LOCK_NAMESPACE = 0x6174_7461


@dataclass(frozen=True, slots=True)
class Claimed:
    """A channel this sender holds until `until`, its secret, and how many messages it sent in the last minute."""

    id: int
    kind: str
    url: str
    secret: str | None
    until: datetime
    sent_last_minute: int


async def claim_channel(session: AsyncSession, holder: AsyncSession, *, now: datetime, lease: timedelta,
                        skip: set[int]) -> Claimed | None:
    """Take one live channel with deliveries due (not in `skip`), or None when there is none free.

    On PostgreSQL the claim is a session advisory lock held by `holder`'s connection while the sender works on
    the channel: it ends with the sender, even one killed mid-send. On SQLite (one server process) it is a lease
    on the channel row."""
    due = (select(O.c.channel_id).distinct()
           .join(C, C.c.id == O.c.channel_id)
           .where(O.c.state == "pending", O.c.next_at <= now, C.c.broken.is_(False), C.c.deleted.is_(False),
                  (C.c.lease_until.is_(None)) | (C.c.lease_until < now)))
    for channel_id in list((await session.execute(due)).scalars()):
        if channel_id in skip:
            continue
        until = now + lease
        if is_postgres(session):
            got = (await holder.execute(text("SELECT pg_try_advisory_lock(:ns, :id)"),
                                        {"ns": LOCK_NAMESPACE, "id": channel_id})).scalar()
            if not got:
                continue
        else:
            taken = await session.execute(
                update(C).where(C.c.id == channel_id, (C.c.lease_until.is_(None)) | (C.c.lease_until < now))
                .values(lease_until=until))
            if taken.rowcount != 1:  # type: ignore[attr-defined]
                continue
        row = (await session.execute(select(C.c.kind, C.c.url).where(C.c.id == channel_id))).one()
        secret = (await session.execute(select(CS.c.secret).where(CS.c.channel_id == channel_id))).scalar()
        sent = (await session.execute(
            select(func.count(func.distinct(A.c.message)))
            .where(A.c.channel_id == channel_id, A.c.at > now - timedelta(minutes=1)))).scalar()
        return Claimed(int(channel_id), row.kind, row.url, secret, until, int(sent or 0))
    return None


async def release(session: AsyncSession, holder: AsyncSession, channel_id: int) -> None:
    if is_postgres(session):
        await holder.execute(text("SELECT pg_advisory_unlock(:ns, :id)"), {"ns": LOCK_NAMESPACE, "id": channel_id})
    else:
        await session.execute(update(C).where(C.c.id == channel_id).values(lease_until=None))


async def due_rows(session: AsyncSession, channel_id: int, *, now: datetime, limit: int = 500) -> list[Any]:
    """The channel's deliveries due now, oldest first, with their notifications."""
    stmt = (select(O.c.id, O.c.tries, O.c.notification_id, N.c.kind, N.c.subject_kind, N.c.subject_code,
                   N.c.recipient_kind, N.c.recipient_code, N.c.due_day, N.c.seq, N.c.title, N.c.body, N.c.link,
                   N.c.created_at)
            .join(N, N.c.id == O.c.notification_id)
            .where(O.c.channel_id == channel_id, O.c.state == "pending", O.c.next_at <= now)
            .order_by(O.c.id).limit(limit))
    return list((await session.execute(stmt)).all())


async def record(session: AsyncSession, *, channel_id: int, rows: list[tuple[int, int]], result: str,
                 next_at: datetime | None, http_status: int | None, errcode: int | None, error: str | None,
                 digest: bool, message: str, now: datetime) -> None:
    """One attempt for each (outbox id, try number) sent in one message, and what it makes of each row."""
    state = {"delivered": "delivered", "failed": "failed"}.get(result, "pending")
    for outbox_id, try_no in rows:
        await session.execute(insert(A).values(outbox_id=outbox_id, channel_id=channel_id, try_no=try_no,
                                               result=result, http_status=http_status, errcode=errcode,
                                               error=(error or None) and error[:500], digest=digest,
                                               message=message, at=now))
        values: dict[str, Any] = {"state": state, "tries": try_no}
        if result == "delivered":
            values["delivered_at"] = now
        if next_at is not None:
            values["next_at"] = next_at
        # Never undo a delivery another sender recorded (a lease that ran out while this one was sending).
        await session.execute(update(O).where(O.c.id == outbox_id, O.c.state == "pending").values(**values))


async def mark_broken(session: AsyncSession, channel_id: int, reason: str) -> None:
    await session.execute(update(C).where(C.c.id == channel_id).values(broken=True, broken_reason=reason[:200]))


async def depth(session: AsyncSession, *, now: datetime) -> tuple[int, float]:
    """Undelivered rows (pending, a broken channel's included) and the age in seconds of the oldest."""
    count, oldest = (await session.execute(
        select(func.count(), func.min(O.c.created_at)).where(O.c.state.in_(UNDELIVERED)))).one()
    if not count or oldest is None:
        return 0, 0.0
    return int(count), max(0.0, (now - oldest).total_seconds())


async def attempts(session: AsyncSession, *, notification_id: int | None = None, channel_id: int | None = None
                   ) -> list[Any]:
    """Attempts, oldest first, for one notification's deliveries or one channel."""
    stmt = select(A, O.c.notification_id).join(O, O.c.id == A.c.outbox_id).order_by(A.c.id)
    if notification_id is not None:
        stmt = stmt.where(O.c.notification_id == notification_id)
    if channel_id is not None:
        stmt = stmt.where(A.c.channel_id == channel_id)
    return list((await session.execute(stmt)).all())
