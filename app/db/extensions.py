"""Extension requests in the store: one pending per deliverable (a partial unique index), each transition an
event with who and when."""

from collections import defaultdict
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app import clock
from app.db.models_supervision import ExtensionEvent, ExtensionRequest
from app.domain.audit import Author
from app.domain.extensions import ExtensionState


async def pending_for(session: AsyncSession, code: str) -> ExtensionRequest | None:
    return (await session.execute(select(ExtensionRequest).where(
        col(ExtensionRequest.deliverable_code) == code,
        col(ExtensionRequest.state) == ExtensionState.PENDING.value))).scalar_one_or_none()


async def create(session: AsyncSession, *, code: str, old_deadline: date, new_deadline: date, reason: str,
                 progress: str | None, department_code: str | None, by: Author) -> ExtensionRequest:
    """A pending request and its first event, in the caller's transaction (the index refuses a second pending
    one with IntegrityError)."""
    row = ExtensionRequest(deliverable_code=code, state=ExtensionState.PENDING.value, old_deadline=old_deadline,
                           new_deadline=new_deadline, reason=reason, progress=progress,
                           department_code=department_code, key_name=by.key_name, created_at=clock.now())
    session.add(row)
    await session.flush()
    session.add(ExtensionEvent(extension_id=row.id or 0, action="request", state=row.state, note=reason,
                               recorded_at=row.created_at, **by.columns()))
    await session.flush()
    return row


async def get_for_update(session: AsyncSession, extension_id: int) -> ExtensionRequest | None:
    """The request, locked against a concurrent decision (PostgreSQL; SQLite writers are serial)."""
    return (await session.execute(select(ExtensionRequest).where(col(ExtensionRequest.id) == extension_id)
                                  .with_for_update())).scalar_one_or_none()


async def decide(session: AsyncSession, row: ExtensionRequest, state: ExtensionState, *, note: str | None,
                 by: Author) -> ExtensionRequest:
    """Approve or reject a pending request, with its event."""
    now = clock.now()
    row.state, row.decided_at, row.decided_by, row.decision_note = state.value, now, by.key_name, note
    session.add(ExtensionEvent(extension_id=row.id or 0, action="approve" if state == ExtensionState.APPROVED
                               else "reject", state=state.value, note=note, recorded_at=now, **by.columns()))
    await session.flush()
    return row


async def listing(session: AsyncSession, *, state: str | None = None, codes: list[str] | None = None,
                  ids: list[int] | None = None) -> list[ExtensionRequest]:
    stmt = select(ExtensionRequest).order_by(col(ExtensionRequest.id))
    if state is not None:
        stmt = stmt.where(col(ExtensionRequest.state) == state)
    if codes is not None:
        stmt = stmt.where(col(ExtensionRequest.deliverable_code).in_(codes))
    if ids is not None:
        stmt = stmt.where(col(ExtensionRequest.id).in_(ids))
    return list((await session.execute(stmt)).scalars())


async def events(session: AsyncSession, ids: list[int]) -> dict[int, list[ExtensionEvent]]:
    out: dict[int, list[ExtensionEvent]] = defaultdict(list)
    if ids:
        for e in (await session.execute(select(ExtensionEvent).where(col(ExtensionEvent.extension_id).in_(ids))
                                        .order_by(col(ExtensionEvent.id)))).scalars():
            out[e.extension_id].append(e)
    return out
