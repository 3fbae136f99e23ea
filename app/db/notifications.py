"""Notifications in the store: created at most once per (subject, kind, due day, recipient), queued to the
recipient's channels in the same transaction, listed and marked read for their recipients."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.dialect import is_postgres
from app.db.notify_models import Channel, Notification, OutboxRow, SchedulerState
from app.domain.reminders import Kind, Recipient, RecipientKind

N = Notification.__table__  # type: ignore[attr-defined]
C = Channel.__table__  # type: ignore[attr-defined]
O = OutboxRow.__table__  # type: ignore[attr-defined]  # noqa: E741
S = SchedulerState.__table__  # type: ignore[attr-defined]
SCHEDULER = "reminders"
# Any constant: the one advisory lock the reminder scheduler takes on PostgreSQL.
ADVISORY_KEY = 0x617474_72656D


@dataclass(frozen=True, slots=True)
class NewNotice:
    kind: Kind
    subject_kind: str
    subject_code: str
    recipient: Recipient
    due_day: date
    seq: int | None
    title: str
    body: str
    link: str | None


async def claim_scheduler(session: AsyncSession) -> bool:
    """Whether this transaction is the one scheduler run: on PostgreSQL the holder of a transaction-scoped advisory
    lock (the others skip this round); on SQLite the write transaction itself is exclusive."""
    if not is_postgres(session):
        return True
    got = (await session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": ADVISORY_KEY})).scalar()
    return bool(got)


async def first_day(session: AsyncSession, today: date, now: datetime) -> date:
    """The scheduler's first day (recorded by its first run), its last run set to now."""
    found = (await session.execute(select(S.c.first_day).where(S.c.name == SCHEDULER))).scalar()
    if found is None:
        await session.execute(insert(S).values(name=SCHEDULER, first_day=today, last_run_at=now))
        return today
    await session.execute(update(S).where(S.c.name == SCHEDULER).values(last_run_at=now))
    return found  # type: ignore[no-any-return]


async def recorded_first_day(session: AsyncSession) -> date | None:
    """The first day, if the scheduler has ever run."""
    return (await session.execute(select(S.c.first_day).where(S.c.name == SCHEDULER))).scalar()  # type: ignore[no-any-return]


async def pressed_rows(session: AsyncSession) -> list[tuple[str, str, date, datetime]]:
    """(deliverable, kind, due day, created at) of every overdue notice and 催办 sent to a department."""
    stmt = (select(N.c.subject_code, N.c.kind, N.c.due_day, func.min(N.c.created_at))
            .where(N.c.subject_kind == "deliverable", N.c.kind.in_([Kind.OVERDUE.value, Kind.URGE.value]),
                   N.c.recipient_kind == RecipientKind.DEPARTMENT.value)
            .group_by(N.c.subject_code, N.c.kind, N.c.due_day))
    return [(r[0], r[1], r[2], r[3]) for r in await session.execute(stmt)]


def _insert_ignoring_duplicates(session: AsyncSession, table: Any, values: dict[str, Any]) -> Any:
    maker = pg_insert if is_postgres(session) else sqlite_insert
    return maker(table).values(**values).on_conflict_do_nothing()


async def create(session: AsyncSession, notices: Iterable[NewNotice], *, now: datetime) -> list[tuple[int, Kind]]:
    """Store the notices not stored yet (the unique key settles races), each queued to its recipient's live
    channels; the ids of those created by this call."""
    made: list[tuple[int, Kind]] = []
    for n in notices:
        stmt = _insert_ignoring_duplicates(session, N, {
            "kind": n.kind.value, "subject_kind": n.subject_kind, "subject_code": n.subject_code,
            "recipient_kind": n.recipient.kind.value, "recipient_code": n.recipient.code, "due_day": n.due_day,
            "seq": n.seq, "title": n.title, "body": n.body, "link": n.link, "created_at": now,
        }).returning(N.c.id)
        new_id = (await session.execute(stmt)).scalar()
        if new_id is None:
            continue
        made.append((int(new_id), n.kind))
        for channel_id in await channels_for(session, n.recipient):
            await session.execute(insert(O).values(notification_id=new_id, channel_id=channel_id, state="pending",
                                                   tries=0, next_at=now, created_at=now))
    return made


async def exists(session: AsyncSession, n: NewNotice) -> bool:
    """Whether this notice is already stored."""
    stmt = select(N.c.id).where(N.c.subject_kind == n.subject_kind, N.c.subject_code == n.subject_code,
                                N.c.kind == n.kind.value, N.c.due_day == n.due_day,
                                N.c.recipient_kind == n.recipient.kind.value, N.c.recipient_code == n.recipient.code)
    return (await session.execute(stmt)).first() is not None


async def channels_for(session: AsyncSession, r: Recipient) -> list[int]:
    column = {RecipientKind.DEPARTMENT: C.c.department_code, RecipientKind.UNIT: C.c.unit_code,
              RecipientKind.ROLE: C.c.role}[r.kind]
    stmt = select(C.c.id).where(column == r.code, C.c.deleted.is_(False)).order_by(C.c.id)
    return [int(i) for i in (await session.execute(stmt)).scalars()]


def _mine(department: str | None, unit: str | None, role: str) -> Any:
    clauses = [and_(N.c.recipient_kind == RecipientKind.ROLE.value, N.c.recipient_code == role)]
    if department:
        clauses.append(and_(N.c.recipient_kind == RecipientKind.DEPARTMENT.value, N.c.recipient_code == department))
    if unit:
        clauses.append(and_(N.c.recipient_kind == RecipientKind.UNIT.value, N.c.recipient_code == unit))
    return or_(*clauses)


async def inbox(session: AsyncSession, *, department: str | None, unit: str | None, role: str,
                unread: bool | None, limit: int = 500) -> Sequence[Any]:
    """The caller's notifications, newest first."""
    stmt = select(N).where(_mine(department, unit, role)).order_by(N.c.id.desc()).limit(limit)
    if unread is True:
        stmt = stmt.where(N.c.read_at.is_(None))
    elif unread is False:
        stmt = stmt.where(N.c.read_at.is_not(None))
    return (await session.execute(stmt)).all()


async def unread_count(session: AsyncSession, *, department: str | None, unit: str | None, role: str) -> int:
    stmt = select(func.count()).select_from(N).where(_mine(department, unit, role), N.c.read_at.is_(None))
    return int((await session.execute(stmt)).scalar() or 0)


async def mark_read(session: AsyncSession, notification_id: int, *, department: str | None, unit: str | None,
                    role: str, now: datetime) -> Any | None:
    """Mark one of the caller's notifications read (kept read if it already was); None when not the caller's."""
    found = (await session.execute(select(N).where(N.c.id == notification_id, _mine(department, unit, role)))).first()
    if found is None:
        return None
    if found.read_at is None:
        await session.execute(update(N).where(N.c.id == notification_id).values(read_at=now))
        found = (await session.execute(select(N).where(N.c.id == notification_id))).first()
    return found
