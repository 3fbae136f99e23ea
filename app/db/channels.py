"""Channels in the store, each change kept as a revision; the secret in its own table (never exported)."""

from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.notify_models import Channel, ChannelRevision, ChannelSecret, OutboxRow
from app.domain.audit import Author

C = Channel.__table__  # type: ignore[attr-defined]
CS = ChannelSecret.__table__  # type: ignore[attr-defined]
CR = ChannelRevision.__table__  # type: ignore[attr-defined]
O = OutboxRow.__table__  # type: ignore[attr-defined]  # noqa: E741
FIELDS = ("kind", "url", "department_code", "unit_code", "role")


async def get(session: AsyncSession, channel_id: int) -> Any | None:
    row = (await session.execute(select(C).where(C.c.id == channel_id, C.c.deleted.is_(False)))).first()
    return row


async def has_secret(session: AsyncSession, ids: list[int]) -> set[int]:
    if not ids:
        return set()
    return {int(i) for i in (await session.execute(select(CS.c.channel_id).where(CS.c.channel_id.in_(ids))))
            .scalars()}


async def listing(session: AsyncSession) -> list[Any]:
    return list((await session.execute(select(C).where(C.c.deleted.is_(False)).order_by(C.c.id))).all())


async def _revise(session: AsyncSession, channel_id: int, action: str, data: dict[str, Any] | None, by: Author,
                  now: datetime) -> None:
    await session.execute(insert(CR).values(channel_id=channel_id, action=action, data=data, recorded_at=now,
                                            **by.columns()))


def _state(values: dict[str, Any], secret_set: bool) -> dict[str, Any]:
    # The revision says whether a secret was set, never what it is.
    return {**{k: values.get(k) for k in FIELDS}, "secret_set": secret_set}


async def create(session: AsyncSession, values: dict[str, Any], secret: str | None, *, by: Author, now: datetime
                 ) -> int:
    new_id = (await session.execute(insert(C).values(**values, broken=False, deleted=False, created_at=now,
                                                     updated_at=now).returning(C.c.id))).scalar_one()
    if secret:
        await session.execute(insert(CS).values(channel_id=new_id, secret=secret))
    await _revise(session, new_id, "create", _state(values, bool(secret)), by, now)
    return int(new_id)


async def replace(session: AsyncSession, channel_id: int, values: dict[str, Any], secret: str | None, *,
                  by: Author, now: datetime) -> None:
    """A new address and secret: the channel is live again, its held deliveries due now with a fresh try count."""
    await session.execute(update(C).where(C.c.id == channel_id).values(**values, broken=False, broken_reason=None,
                                                                         updated_at=now))
    await session.execute(delete(CS).where(CS.c.channel_id == channel_id))
    if secret:
        await session.execute(insert(CS).values(channel_id=channel_id, secret=secret))
    await session.execute(update(O).where(O.c.channel_id == channel_id, O.c.state == "pending")
                          .values(next_at=now, tries=0))
    await _revise(session, channel_id, "update", _state(values, bool(secret)), by, now)


async def remove(session: AsyncSession, channel_id: int, *, by: Author, now: datetime) -> None:
    """Kept as a deleted row (its attempts still name it); what it still had to send is dropped."""
    await session.execute(update(C).where(C.c.id == channel_id).values(deleted=True, updated_at=now))
    await session.execute(delete(CS).where(CS.c.channel_id == channel_id))
    await session.execute(update(O).where(O.c.channel_id == channel_id, O.c.state == "pending")
                          .values(state="dropped"))
    await _revise(session, channel_id, "delete", None, by, now)
