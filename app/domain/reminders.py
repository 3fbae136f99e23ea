"""When a reminder, an overdue notice or a 催办 is due, and what it says (SPEC "Supervision", "Reminders and 催办").

Plain rules over plain data: the scheduler (app.services.reminders) feeds them what the store holds and writes
what they return. A notice is identified by (subject, kind, due day, recipient); every rule here picks one due day
per subject and run, so a scheduler that was down for days catches up once, never once per missed day.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from app.domain.reporting import State as ReportState

REMIND_DAYS_BEFORE = (30, 7, 1)
URGE_EVERY_DAYS = 7
REPORT_DUE_DAYS_BEFORE = 7


class Kind(StrEnum):
    DEADLINE_REMINDER = "deadline_reminder"
    OVERDUE = "overdue"
    URGE = "urge"
    PROGRESS_DUE = "progress_due"
    INSTRUCTION = "instruction"
    INSTRUCTION_REPLY = "instruction_reply"
    EXTENSION_DECISION = "extension_decision"
    REPORT_DUE = "report_due"
    REPORT_MISSING = "report_missing"


KINDS = tuple(k.value for k in Kind)


class RecipientKind(StrEnum):
    DEPARTMENT = "department"
    UNIT = "unit"
    ROLE = "role"


@dataclass(frozen=True, slots=True)
class Recipient:
    kind: RecipientKind
    code: str


LEADERS = Recipient(RecipientKind.ROLE, "leader")


@dataclass(frozen=True, slots=True)
class Step:
    """The notice a subject is due on a run: its kind, the day it stands for, and for 催办 its number."""

    kind: Kind
    due_day: date
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class Pressed:
    """What was already sent about an overdue deliverable, counted from its current deadline: the day of the
    latest overdue notice or 催办, and how many 催办 there were."""

    last_day: date | None = None
    urges: int = 0


def deliverable_step(*, deadline: date | None, open_: bool, today: date, first_day: date, pressed: Pressed
                     ) -> Step | None:
    """The notice a deliverable is due today, if any.

    Before its deadline: the latest of the 30/7/1-days-before reminders already reached. After it, while not
    done: one overdue notice, then a 催办 every 7 days after the previous one. Nothing is dated before the
    scheduler's first day: what it finds already due is dated that day, once.
    """
    if deadline is None or not open_:
        return None
    if today <= deadline:
        reached = [deadline - timedelta(days=n) for n in REMIND_DAYS_BEFORE
                   if deadline - timedelta(days=n) <= today]
        if not reached:
            return None
        return Step(Kind.DEADLINE_REMINDER, max(max(reached), first_day))
    if pressed.last_day is None:
        return Step(Kind.OVERDUE, max(deadline + timedelta(days=1), first_day))
    waited = (today - pressed.last_day).days
    if waited < URGE_EVERY_DAYS:
        return None
    # Catch up once: the latest 催办 day reached, not one per missed week.
    day = pressed.last_day + timedelta(days=URGE_EVERY_DAYS * (waited // URGE_EVERY_DAYS))
    return Step(Kind.URGE, day, seq=pressed.urges + 1)


def report_step(*, due: date, state: ReportState, today: date, first_day: date, latest_past: bool) -> Step | None:
    """The notice a district's (indicator, year) report is due today: a reminder from 7 days before the due
    date while not complete, and one missing-report notice after it (only for the latest year already due, so a
    first run does not dig up years long gone)."""
    if state in (ReportState.ON_TIME, ReportState.LATE):
        return None
    if today <= due:
        start = due - timedelta(days=REPORT_DUE_DAYS_BEFORE)
        return Step(Kind.REPORT_DUE, max(start, first_day)) if today >= start else None
    if state == ReportState.MISSING and latest_past:
        return Step(Kind.REPORT_MISSING, max(due + timedelta(days=1), first_day))
    return None


def deliverable_recipients(kind: Kind, departments: tuple[str, ...]) -> tuple[Recipient, ...]:
    """The deliverable's departments; a 催办 goes to the 督查 office (role leader) too."""
    own = tuple(Recipient(RecipientKind.DEPARTMENT, d) for d in departments)
    return (*own, LEADERS) if kind == Kind.URGE else own
