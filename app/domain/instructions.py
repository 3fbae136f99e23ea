"""批示 (leaders' instructions): states, transitions, and who is overdue (SPEC "Supervision").

An instruction is judged from its history: the events and replies recorded up to an instant, so a past `as_of`
sees the state, the respond-by date and the replies as they were then.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from app.domain.periods import SHANGHAI
from app.i18n import _

TEXT_LIMIT = 2000  # an instruction's or a reply's text, in characters
NOTE_LIMIT = 1000
MAX_DEPARTMENTS = 40


class InstructionState(StrEnum):
    OPEN = "open"
    ANSWERED = "answered"
    CLOSED = "closed"


class TargetKind(StrEnum):
    TASK = "task"
    DELIVERABLE = "deliverable"
    INDICATOR = "indicator"


class Action(StrEnum):
    OPEN = "open"  # written
    ANSWER = "answer"  # the last addressed department has replied
    CLOSE = "close"
    REOPEN = "reopen"


_MOVES: dict[Action, tuple[frozenset[InstructionState], InstructionState]] = {
    Action.ANSWER: (frozenset({InstructionState.OPEN}), InstructionState.ANSWERED),
    Action.CLOSE: (frozenset({InstructionState.OPEN, InstructionState.ANSWERED}), InstructionState.CLOSED),
    # Reopening an answered instruction asks again (the answers did not satisfy), as reopening a closed one does.
    Action.REOPEN: (frozenset({InstructionState.ANSWERED, InstructionState.CLOSED}), InstructionState.OPEN),
}


class NotAllowed(Exception):
    """A transition the instruction's state does not allow (409)."""


def move(state: InstructionState, action: Action) -> InstructionState:
    """The state after `action`, or NotAllowed."""
    allowed, target = _MOVES[action]
    if state not in allowed:
        raise NotAllowed(_("A {state} instruction cannot be {done}.", state=state.value, done=_PAST[action]))
    return target


_PAST = {Action.ANSWER: _("answered"), Action.CLOSE: _("closed"), Action.REOPEN: _("reopened"),
         Action.OPEN: _("written")}


def local_day(instant: datetime) -> date:
    """The day in Qingdao an instant falls on: a reply "by" a date is one recorded on or before it there."""
    return instant.astimezone(SHANGHAI).date()


@dataclass(frozen=True, slots=True)
class Reply:
    department: str
    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class Event:
    action: Action
    state: InstructionState
    respond_by: date | None
    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class Judged:
    """An instruction as known at an instant, judged on a day."""

    state: InstructionState
    respond_by: date | None
    opened_at: datetime
    answered: tuple[str, ...]  # departments that replied since the latest opening, in address order
    overdue: tuple[str, ...]  # departments overdue on the judged day

    @property
    def is_overdue(self) -> bool:
        return bool(self.overdue)


def judge(departments: Sequence[str], events: Iterable[Event], replies: Iterable[Reply], *, on: date,
          as_of: datetime | None = None) -> Judged | None:
    """The instruction's state, respond-by date and overdue departments on day `on`, from what was recorded up to
    `as_of` (everything when None); None when it did not exist yet.

    Overdue, per addressed department: not closed, `respond_by` passed (before `on`), and no reply from it since
    the latest opening recorded on or before `respond_by`."""
    known = [e for e in events if as_of is None or e.recorded_at <= as_of]
    if not known:
        return None
    state, respond_by, opened_at = known[0].state, known[0].respond_by, known[0].recorded_at
    for e in known[1:]:
        state = e.state
        if e.action is Action.REOPEN:
            respond_by, opened_at = e.respond_by, e.recorded_at
    counted = [r for r in replies if r.recorded_at >= opened_at and (as_of is None or r.recorded_at <= as_of)]
    answered = tuple(d for d in departments if any(r.department == d for r in counted))
    overdue: tuple[str, ...] = ()
    if state is not InstructionState.CLOSED and respond_by is not None and on > respond_by:
        overdue = tuple(d for d in departments
                        if not any(r.department == d and local_day(r.recorded_at) <= respond_by for r in counted))
    return Judged(state=state, respond_by=respond_by, opened_at=opened_at, answered=answered, overdue=overdue)


def replied_in_time(department: str, respond_by: date, opened_at: datetime, replies: Iterable[Reply], *,
                    on: date) -> bool:
    """Whether the department replied since the opening, on or before `respond_by` (and by the judged day)."""
    last = min(respond_by, on)
    return any(r.department == department and r.recorded_at >= opened_at and local_day(r.recorded_at) <= last
               for r in replies)


def all_answered(departments: Sequence[str], replied: Iterable[str]) -> bool:
    """Whether every addressed department has replied."""
    got = set(replied)
    return all(d in got for d in departments)
