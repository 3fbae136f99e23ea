"""批示 use cases: write one, reply, close, reopen, read them judged on a day (SPEC "Supervision").

Who may: a leader or admin writes, closes and reopens; an addressed department replies (admin for any addressed
department, naming it). Every transition is kept with who and when."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app import clock
from app.db import instructions as store
from app.db.instruction_models import Instruction
from app.domain.audit import Author
from app.domain.catalog import Catalog
from app.domain.evidence import Upload
from app.domain.instructions import (
    Action,
    Event,
    InstructionState,
    Judged,
    NotAllowed,
    Reply,
    TargetKind,
    all_answered,
    judge,
    move,
)
from app.domain.keys import Principal, Role
from app.errors import Conflict, Forbidden, NotFound, Unprocessable
from app.i18n import _, message_of
from app.services import evidence

INSTRUCTORS = frozenset({Role.ADMIN, Role.LEADER})


@dataclass(frozen=True, slots=True)
class NewInstruction:
    kind: TargetKind
    code: str
    text: str
    departments: list[str]  # as given: codes, names or aliases; empty means the target's own departments
    respond_by: date | None


@dataclass(frozen=True, slots=True)
class View:
    """An instruction with its history, judged on a day as known at an instant."""

    loaded: store.Loaded
    judged: Judged


def _may_instruct(caller: Principal) -> None:
    if caller.role not in INSTRUCTORS:
        raise Forbidden(_("A {role} key cannot write, close or reopen 批示; this needs a leader or admin key.",
                          role=caller.role.value), code="role_cannot_instruct")


def _not_past(day: date | None, field: str) -> None:
    if day is not None and day < clock.today():
        raise Unprocessable(_("respond_by {day} has already passed; give today or a later day.", day=day.isoformat()),
                            code="respond_by_past",
                            errors=[{"location": f"body.{field}", "code": "respond_by_past",
                                     "message": "in the past"}])


async def _target_departments(session: AsyncSession, catalog: Catalog, kind: TargetKind, code: str) -> list[str]:
    """The target's own departments (lead first); 422 `unknown_target` when there is no such target."""
    found: list[str] | None = None
    if kind is TargetKind.TASK and code.isdigit() and int(code) in catalog.tasks:
        found = list(catalog.task_departments.get(int(code), []))
    elif kind is TargetKind.INDICATOR and code in catalog.indicators:
        found = list(catalog.task_departments.get(catalog.indicators[code].task_number, []))
    elif kind is TargetKind.DELIVERABLE:
        found = await store.deliverable_departments(session, code)
    if found is None:
        raise Unprocessable(_("No {kind} '{code}' to instruct on.", kind=kind.value, code=code[:64]),
                            code="unknown_target",
                            errors=[{"location": "body.target.code", "code": "unknown_target", "message": "unknown"}])
    return found


def _departments(catalog: Catalog, given: list[str]) -> list[str]:
    out: list[str] = []
    for i, text in enumerate(given):
        code = catalog.resolve_department(text)
        if code is None:
            raise Unprocessable(_("No department '{department}'; the list is at /api/v1/departments.",
                                  department=text[:100]), code="unknown_department",
                                errors=[{"location": f"body.departments.{i}", "code": "unknown_department",
                                         "message": "unknown"}])
        if code not in out:
            out.append(code)
    return out


async def create(session: AsyncSession, catalog: Catalog, new: NewInstruction, *, by: Principal,
                 who: Author) -> Instruction:
    """Write a 批示 → open. With no departments given, the target's own are addressed."""
    _may_instruct(by)
    _not_past(new.respond_by, "respond_by")
    own = await _target_departments(session, catalog, new.kind, new.code)
    departments = _departments(catalog, new.departments) if new.departments else own
    if not departments:
        raise Unprocessable(_("Name at least one department to answer this instruction."), code="no_departments")
    return await store.create(session, kind=new.kind.value, code=new.code, text=new.text, departments=departments,
                              respond_by=new.respond_by, state=InstructionState.OPEN.value, who=who)


async def _held(session: AsyncSession, instruction_id: int) -> Instruction:
    row = await store.get(session, instruction_id, exclusive=True)
    if row is None:
        raise NotFound(_("No instruction {id}.", id=instruction_id), code="unknown_instruction")
    return row


def _move(session: AsyncSession, row: Instruction, action: Action, *, note: str | None, who: Author) -> None:
    try:
        row.state = move(InstructionState(row.state), action).value
    except NotAllowed as exc:
        raise Conflict(message_of(exc), code="instruction_state", state=row.state) from None
    store.record(session, row, action=action.value, note=note, who=who)


async def reply(session: AsyncSession, catalog: Catalog, instruction_id: int, *, text: str, department: str | None,
                by: Principal, who: Author, uploads: Sequence[Upload] = ()) -> Instruction:
    """An addressed department's reply, with evidence files checked and stored as progress reports' are; the
    instruction is `answered` once every addressed department has replied since its latest opening. A closed
    instruction takes no reply (409); nothing is stored on any refusal."""
    if by.role not in (Role.DEPARTMENT, Role.ADMIN):
        raise Forbidden(_("Only an addressed department (or admin) replies to an instruction."),
                        code="role_cannot_reply")
    if by.role == Role.DEPARTMENT:
        if department is not None and catalog.resolve_department(department) != by.department_code:
            raise Forbidden(_("This key replies only for its own department."), code="other_department")
        department = by.department_code
    elif department is None:
        raise Unprocessable(_("An admin replies on behalf of a department: name it in 'department'."),
                            code="department_required")
    else:
        department = catalog.resolve_department(department) or department
    row = await _held(session, instruction_id)
    loaded = (await store.load(session, [row]))[0]
    if department not in loaded.departments:
        raise Forbidden(_("Instruction {id} is not addressed to this department.", id=instruction_id),
                        code="not_addressed")
    if row.state == InstructionState.CLOSED:
        raise Conflict(_("Instruction {id} is closed; it takes no more replies.", id=instruction_id),
                       code="instruction_closed", state=row.state)
    files = await evidence.keep(session, list(uploads), by=who, department_code=department)
    await store.add_reply(session, row, department=department, text=text, files=files, who=who)
    replied = {r.department_code for r in loaded.replies if r.recorded_at >= row.opened_at} | {department}
    if row.state == InstructionState.OPEN and all_answered(loaded.departments, replied):
        _move(session, row, Action.ANSWER, note=None, who=who)
    row.updated_at = clock.now()
    await session.flush()
    return row


async def close(session: AsyncSession, instruction_id: int, *, note: str | None, by: Principal,
                who: Author) -> Instruction:
    _may_instruct(by)
    row = await _held(session, instruction_id)
    _move(session, row, Action.CLOSE, note=note, who=who)
    await session.flush()
    return row


async def reopen(session: AsyncSession, instruction_id: int, *, respond_by: date | None, note: str | None,
                 by: Principal, who: Author) -> Instruction:
    """Open again: replies are counted afresh from now; a new respond_by replaces the old one when given."""
    _may_instruct(by)
    _not_past(respond_by, "respond_by")
    row = await _held(session, instruction_id)
    if respond_by is not None:
        row.respond_by = respond_by
    _move(session, row, Action.REOPEN, note=note, who=who)
    row.opened_at = row.updated_at
    await session.flush()
    return row


def view(loaded: store.Loaded, *, on: date, as_of: datetime | None) -> View | None:
    """The instruction judged on `on` as known at `as_of`; None when it did not exist then."""
    judged = judge(loaded.departments,
                   [Event(Action(e.action), InstructionState(e.state), e.respond_by, e.recorded_at)
                    for e in loaded.events],
                   [Reply(r.department_code, r.recorded_at) for r in loaded.replies], on=on, as_of=as_of)
    return View(loaded=loaded, judged=judged) if judged else None


@dataclass(frozen=True, slots=True)
class Filters:
    state: InstructionState | None = None
    department: str | None = None
    kind: TargetKind | None = None
    code: str | None = None
    overdue: bool | None = None


async def listing(session: AsyncSession, filters: Filters, *, on: date, as_of: datetime | None) -> list[View]:
    """Instructions judged on `on` as known at `as_of`, newest first; the state filter applies to the judged state."""
    rows = await store.listing(session, department=filters.department, kind=filters.kind.value if filters.kind
                               else None, code=filters.code)
    out = []
    for loaded in await store.load(session, rows):
        v = view(loaded, on=on, as_of=as_of)
        if v is None or (filters.state is not None and v.judged.state is not filters.state):
            continue
        if filters.overdue is not None and v.judged.is_overdue != filters.overdue:
            continue
        out.append(v)
    return out


async def one(session: AsyncSession, instruction_id: int, *, on: date, as_of: datetime | None) -> View:
    row = await store.get(session, instruction_id)
    v = view((await store.load(session, [row]))[0], on=on, as_of=as_of) if row else None
    if v is None:
        raise NotFound(_("No instruction {id}.", id=instruction_id), code="unknown_instruction")
    return v


async def overdue_subjects(session: AsyncSession, *, on: date, as_of: datetime | None) -> set[tuple[str, str]]:
    """(kind, code) of every target with an overdue 批示 on `on`: what the lights' 批示 clause looks at."""
    return {(v.loaded.row.target_kind, v.loaded.row.target_code)
            for v in await listing(session, Filters(overdue=True), on=on, as_of=as_of)}
