"""Extension requests (延期申请): what a request may say and when one may be made (SPEC "Supervision")."""

import unicodedata
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from app.domain.deliverables import DONE, Deliverable, DeliverableStatus
from app.domain.times import parse_day
from app.i18n import Text, _, message_of

REASON_MAX = 2000
PROGRESS_MAX = 2000
NOTE_MAX = 2000
# Dates beyond these are typing mistakes, not plans.
EARLIEST = date(2000, 1, 1)
LATEST = date(2099, 12, 31)


class ExtensionState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class Problem:
    field: str
    code: str
    message: Text


def clean_text(name: str, value: str | None, limit: int, problems: list[Problem], *, required: bool = False
               ) -> str | None:
    """A free-text field, stripped: required, at most `limit` characters, no control characters but line breaks
    and tabs."""
    value = value.strip() if value is not None else None
    if not value:
        if required:
            problems.append(Problem(name, f"missing_{name}", _("{name} is required.", name=name)))
        return None
    if len(value) > limit:
        problems.append(Problem(name, f"{name}_too_long", _("{name} has {length} characters; at most {most}.",
                                                            name=name, length=len(value), most=limit)))
    elif any(unicodedata.category(c) == "Cc" and c not in "\n\r\t" for c in value):
        problems.append(Problem(name, "control_characters", _("{name} contains control characters.", name=name)))
    return value


def clean_day(name: str, value: str | None, problems: list[Problem], *, required: bool = False) -> date | None:
    """A YYYY-MM-DD field between EARLIEST and LATEST."""
    value = value.strip() if value is not None else None
    if not value:
        if required:
            problems.append(Problem(name, f"missing_{name}", _("{name} is required.", name=name)))
        return None
    try:
        day = parse_day(value)
    except ValueError as exc:
        problems.append(Problem(name, "bad_date", message_of(exc)))
        return None
    if not EARLIEST <= day <= LATEST:
        problems.append(Problem(name, "date_out_of_range", _("{name} must lie between {first} and {last}.",
                                                             name=name, first=EARLIEST, last=LATEST)))
        return None
    return day


@dataclass(frozen=True, slots=True)
class ValidRequest:
    new_deadline: date
    reason: str
    progress: str | None


def check_request(*, new_deadline: str | None, reason: str | None, progress: str | None
                  ) -> ValidRequest | list[Problem]:
    """The request's own fields, or every problem with them."""
    problems: list[Problem] = []
    day = clean_day("new_deadline", new_deadline, problems, required=True)
    why = clean_text("reason", reason, REASON_MAX, problems, required=True)
    done = clean_text("progress", progress, PROGRESS_MAX, problems)
    if problems or day is None or why is None:
        return problems
    return ValidRequest(new_deadline=day, reason=why, progress=done)


def refusal(d: Deliverable, request: ValidRequest, *, today: date) -> Problem | None:
    """Why the deliverable cannot be extended to `request.new_deadline` today, or None: it needs a deadline and
    must not be done or dropped (`not_extendable`), the effective deadline must not have passed (`too_late`),
    and the new date must be later than it (`deadline_not_later`). A pending request is the caller's to check."""
    effective = d.effective_deadline
    status = d.status(today)
    if effective is None or status in DONE or status == DeliverableStatus.DROPPED:
        return Problem("deliverable", "not_extendable",
                       _("Deliverable {code} has no deadline, or is done or dropped: nothing to extend.",
                         code=d.code))
    if today > effective:
        return Problem("deliverable", "too_late",
                       _("The deadline {deadline} has passed; an extension is asked for before it.",
                         deadline=effective))
    if request.new_deadline <= effective:
        return Problem("new_deadline", "deadline_not_later",
                       _("new_deadline {day} must be later than the deadline in force, {deadline}.",
                         day=request.new_deadline, deadline=effective))
    return None
