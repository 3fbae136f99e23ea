"""批示 rows, their addressees, replies and events. A reply, close or reopen holds the instruction's row
exclusively (PostgreSQL row lock; SQLite's single writer serialises them anyway), so concurrent ones keep one
history."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.db import evidence
from app.db.bulk import chunks
from app.db.dialect import is_postgres
from app.db.evidence import FileMeta
from app.db.instruction_models import (
    Instruction,
    InstructionDepartment,
    InstructionEvent,
    InstructionReply,
    InstructionReplyFile,
    ScorecardWeights,
)
from app.db.types import utcnow
from app.domain.audit import Author


@dataclass
class Loaded:
    """An instruction with its addressees (in order), events and replies, oldest first."""

    row: Instruction
    departments: list[str]
    events: list[InstructionEvent]
    replies: list[InstructionReply]
    files: dict[int, list[FileMeta]]  # by reply id, in upload order


async def create(session: AsyncSession, *, kind: str, code: str, text: str, departments: Sequence[str],
                 respond_by: date | None, state: str, who: Author) -> Instruction:
    now = utcnow()
    row = Instruction(target_kind=kind, target_code=code, text=text, respond_by=respond_by, state=state,
                      opened_at=now, created_by=who.key_name, created_at=now, updated_at=now)
    session.add(row)
    await session.flush()
    assert row.id is not None
    for position, d in enumerate(departments):
        session.add(InstructionDepartment(instruction_id=row.id, department_code=d, position=position))
    record(session, row, action="open", note=None, who=who)
    await session.flush()
    return row


def record(session: AsyncSession, row: Instruction, *, action: str, note: str | None, who: Author) -> None:
    """Append one transition (the row's state and respond-by after it) in the caller's transaction."""
    assert row.id is not None
    row.updated_at = utcnow()
    session.add(InstructionEvent(instruction_id=row.id, action=action, state=row.state, respond_by=row.respond_by,
                                 note=note, key_name=who.key_name, key_id=who.key_id, request_id=who.request_id,
                                 client_request_id=who.client_request_id, recorded_at=row.updated_at))


async def add_reply(session: AsyncSession, row: Instruction, *, department: str, text: str,
                    files: Sequence[FileMeta], who: Author) -> InstructionReply:
    """One reply, linked to its already stored evidence files, in the caller's transaction."""
    assert row.id is not None
    reply = InstructionReply(instruction_id=row.id, department_code=department, text=text, key_name=who.key_name,
                             key_id=who.key_id, request_id=who.request_id, client_request_id=who.client_request_id,
                             recorded_at=utcnow())
    session.add(reply)
    await session.flush()
    assert reply.id is not None
    for position, f in enumerate(files):
        session.add(InstructionReplyFile(reply_id=reply.id, file_id=f.id, position=position))
    return reply


async def get(session: AsyncSession, instruction_id: int, *, exclusive: bool = False) -> Instruction | None:
    stmt = select(Instruction).where(col(Instruction.id) == instruction_id)
    if exclusive and is_postgres(session):
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalars().first()


async def listing(session: AsyncSession, *, state: str | None = None, department: str | None = None,
                  kind: str | None = None, code: str | None = None) -> list[Instruction]:
    """Instructions, newest first, narrowed by current state, addressee and target."""
    stmt = select(Instruction).order_by(col(Instruction.id).desc())
    if state is not None:
        stmt = stmt.where(col(Instruction.state) == state)
    if kind is not None:
        stmt = stmt.where(col(Instruction.target_kind) == kind)
    if code is not None:
        stmt = stmt.where(col(Instruction.target_code) == code)
    if department is not None:
        stmt = stmt.where(col(Instruction.id).in_(
            select(col(InstructionDepartment.instruction_id)).where(
                col(InstructionDepartment.department_code) == department)))
    return list((await session.execute(stmt)).scalars())


async def load(session: AsyncSession, rows: Sequence[Instruction]) -> list[Loaded]:
    """The rows with their addressees, events and replies."""
    ids = [r.id for r in rows if r.id is not None]
    depts: dict[int, list[tuple[int, str]]] = {i: [] for i in ids}
    events: dict[int, list[InstructionEvent]] = {i: [] for i in ids}
    replies: dict[int, list[InstructionReply]] = {i: [] for i in ids}
    for part in chunks(sorted(set(ids))):
        for d in (await session.execute(select(InstructionDepartment).where(
                col(InstructionDepartment.instruction_id).in_(list(part))))).scalars():
            depts[d.instruction_id].append((d.position, d.department_code))
        for e in (await session.execute(select(InstructionEvent).where(
                col(InstructionEvent.instruction_id).in_(list(part))).order_by(col(InstructionEvent.id)))).scalars():
            events[e.instruction_id].append(e)
        for r in (await session.execute(select(InstructionReply).where(
                col(InstructionReply.instruction_id).in_(list(part))).order_by(col(InstructionReply.id)))).scalars():
            replies[r.instruction_id].append(r)
    files = await _reply_files(session, [x.id for rs in replies.values() for x in rs if x.id is not None])
    return [Loaded(row=r, departments=[c for _, c in sorted(depts[r.id or 0])], events=events[r.id or 0],
                   replies=replies[r.id or 0], files=files) for r in rows]


async def _reply_files(session: AsyncSession, reply_ids: list[int]) -> dict[int, list[FileMeta]]:
    links: list[tuple[int, int, int]] = []
    for part in chunks(sorted(set(reply_ids))):
        links.extend((x.reply_id, x.position, x.file_id) for x in (await session.execute(
            select(InstructionReplyFile).where(col(InstructionReplyFile.reply_id).in_(list(part))))).scalars())
    meta = await evidence.metadata(session, sorted({f for _, _, f in links}))
    out: dict[int, list[FileMeta]] = {}
    for reply, _position, file_id in sorted(links):
        out.setdefault(reply, []).append(meta[file_id])
    return out


async def weights_history(session: AsyncSession) -> list[ScorecardWeights]:
    """Every revision of the scorecard's weights, oldest first."""
    return list((await session.execute(select(ScorecardWeights).order_by(col(ScorecardWeights.id)))).scalars())


def add_weights(session: AsyncSession, *, on_time: float, progress: float, instructions: float, targets: float,
                who: Author) -> ScorecardWeights:
    row = ScorecardWeights(on_time=on_time, progress=progress, instructions=instructions, targets=targets,
                           key_name=who.key_name, key_id=who.key_id, request_id=who.request_id,
                           recorded_at=utcnow())
    session.add(row)
    return row


async def deliverable_departments(session: AsyncSession, code: str) -> list[str] | None:
    """A deliverable's departments, lead first; None when there is no such deliverable."""
    from app.db.models import Deliverable, DeliverableDepartment

    if (await session.execute(select(col(Deliverable.code)).where(col(Deliverable.code) == code))).first() is None:
        return None
    rows = await session.execute(select(col(DeliverableDepartment.department_code))
                                 .where(col(DeliverableDepartment.deliverable_code) == code)
                                 .order_by(col(DeliverableDepartment.position)))
    return [d for (d,) in rows]
