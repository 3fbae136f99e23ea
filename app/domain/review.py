"""Review and locking of datasets (SPEC.md "Review and locking", DHIS2's data approval): a dataset is a unit
and a year, covering every period ending in that year for the unit and every unit below it."""

from collections.abc import Iterable, Mapping
from enum import StrEnum

from app.i18n import _


class ReviewState(StrEnum):
    SUBMITTED = "submitted"
    APPROVED = "approved"
    RETURNED = "returned"
    OPEN = "open"  # after an admin's unlock


class Action(StrEnum):
    SUBMIT = "submit"
    RESUBMIT = "resubmit"
    APPROVE = "approve"
    RETURN = "return"
    UNLOCK = "unlock"


# Which state each action starts from, and where it leads.
_MOVES: dict[Action, tuple[frozenset[ReviewState], ReviewState]] = {
    Action.RESUBMIT: (frozenset({ReviewState.RETURNED, ReviewState.OPEN}), ReviewState.SUBMITTED),
    Action.APPROVE: (frozenset({ReviewState.SUBMITTED}), ReviewState.APPROVED),
    Action.RETURN: (frozenset({ReviewState.SUBMITTED}), ReviewState.RETURNED),
    Action.UNLOCK: (frozenset({ReviewState.APPROVED}), ReviewState.OPEN),
}


class NotAllowed(Exception):
    """A transition the dataset's state does not allow (409)."""


def move(state: ReviewState, action: Action) -> ReviewState:
    """The state after `action`, or NotAllowed."""
    allowed, target = _MOVES[action]
    if state not in allowed:
        raise NotAllowed(_("A {state} dataset cannot be {done}.", state=state.value, done=_PAST[action]))
    return target


_PAST = {Action.RESUBMIT: _("submitted again"), Action.APPROVE: _("approved"), Action.RETURN: _("returned"),
         Action.UNLOCK: _("unlocked"), Action.SUBMIT: _("submitted")}


def locking(unit: str, ancestors: Iterable[str], year: int,
            approved: Mapping[tuple[str, int], object]) -> tuple[str, int] | None:
    """The approved dataset that locks (unit, year) — its own or an ancestor's — or None. A lock reaches down
    only: an approved district never locks the city's own values."""
    for u in (unit, *ancestors):
        if (u, year) in approved:
            return u, year
    return None
