"""Notices derived from the supervision records (SPEC "Supervision"): progress reports due, 批示 to their
departments, replies to the leaders, extension decisions to the requesting department.

Derived by the scheduler from what is stored, so the services that write those records need no change: each
notice is dated the day its event happened (never before the scheduler's first day) and is created once by the
notifications' unique key, whichever run sees it first.
"""

from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.clock import SHANGHAI
from app.db.instruction_models import Instruction, InstructionDepartment, InstructionReply
from app.db.models_supervision import ExtensionRequest
from app.db.notifications import NewNotice
from app.domain.catalog import Catalog
from app.domain.deliverables import Deliverable
from app.domain.progress import expects_progress, progress_due_on
from app.domain.reminder_text import extension_text, instruction_text, progress_text, reply_text
from app.domain.reminders import LEADERS, Kind, Recipient, RecipientKind

I = Instruction.__table__  # type: ignore[attr-defined]  # noqa: E741
ID = InstructionDepartment.__table__  # type: ignore[attr-defined]
IR = InstructionReply.__table__  # type: ignore[attr-defined]
X = ExtensionRequest.__table__  # type: ignore[attr-defined]


def _day(at: datetime) -> date:
    return at.astimezone(SHANGHAI).date()


def _dept(code: str) -> Recipient:
    return Recipient(RecipientKind.DEPARTMENT, code)


def progress_notices(deliverables: Iterable[Deliverable], *, today: date, first_day: date, link: str
                     ) -> list[NewNotice]:
    """A progress reminder to a deliverable's departments once its next report is due (dated its due day)."""
    out = []
    for d in deliverables:
        due = progress_due_on(d, today)
        if due is None or due > today or not expects_progress(d, d.status(today)):
            continue
        text = progress_text(code=d.code, title=d.title, due=due,
                             link=f"{link}/departments/{d.departments[0]}#{d.code}" if d.departments else None)
        out += [NewNotice(Kind.PROGRESS_DUE, "deliverable", d.code, _dept(c), max(due, first_day), None, text.title,
                          text.body, text.link) for c in d.departments]
    return out


async def extension_notices(session: AsyncSession, deliverables: dict[str, Deliverable], *, first_day: date,
                            link: str) -> list[NewNotice]:
    """Each decision since the first day, to the department that asked (the lead one when admin asked)."""
    rows = (await session.execute(select(X).where(X.c.decided_at.is_not(None),
                                                  X.c.state.in_(["approved", "rejected"])))).all()
    out = []
    for x in rows:
        day = _day(x.decided_at)
        d = deliverables.get(x.deliverable_code)
        if day < first_day or d is None:
            continue
        to = x.department_code or (d.departments[0] if d.departments else None)
        if to is None:
            continue
        text = extension_text(code=d.code, title=d.title, approved=x.state == "approved",
                              new_deadline=x.new_deadline, note=x.decision_note,
                              link=f"{link}/departments/{to}#{d.code}")
        out.append(NewNotice(Kind.EXTENSION_DECISION, "deliverable", d.code, _dept(to), day, None, text.title,
                             text.body, text.link))
    return out


async def instruction_notices(session: AsyncSession, catalog: Catalog, *, first_day: date, link: str
                              ) -> list[NewNotice]:
    """An open 批示 to each addressed department (dated its latest opening), and each day's replies to the
    leaders."""
    out = []
    found = (await session.execute(select(I).where(I.c.state != "closed"))).all()
    addressed: dict[int, list[str]] = {}
    for inst_id, dept in (await session.execute(select(ID.c.instruction_id, ID.c.department_code)
                                                .order_by(ID.c.instruction_id, ID.c.position))).all():
        addressed.setdefault(int(inst_id), []).append(dept)
    for i in found:
        target = f"{i.target_kind} {i.target_code}"
        here = f"{link}/attention#i-{i.id}"
        opened = max(_day(i.opened_at), first_day)
        if i.state == "open":
            text = instruction_text(number=i.id, target=target, text=i.text, respond_by=i.respond_by, link=here)
            out += [NewNotice(Kind.INSTRUCTION, "instruction", str(i.id), _dept(c), opened, None, text.title,
                              text.body, text.link) for c in addressed.get(int(i.id), [])]
        replies = (await session.execute(select(IR.c.department_code, IR.c.recorded_at)
                                         .where(IR.c.instruction_id == i.id))).all()
        for dept, at in replies:
            day = _day(at)
            if day < first_day:
                continue
            name = catalog.departments[dept].name_zh if dept in catalog.departments else dept
            text = reply_text(number=i.id, target=target, department=name, link=here)
            out.append(NewNotice(Kind.INSTRUCTION_REPLY, "instruction", str(i.id), LEADERS, day, None, text.title,
                                 text.body, text.link))
    return out
