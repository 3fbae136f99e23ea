"""The reporting schedule (SPEC.md "Reporting"): when a reporter's year is due, whether it came on time, late,
is missing or not yet due, and the reporting and on-time rates DHIS2's reporting-rate summary shows."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

DEFAULT_DUE_DAYS = 31


class State(StrEnum):
    ON_TIME = "on_time"
    LATE = "late"
    MISSING = "missing"
    NOT_DUE = "not_due"


def due_date(year: int, due_days: int) -> date:
    """The year's end plus `due_days`: the last day a yearly report is on time."""
    return date(year, 12, 31) + timedelta(days=due_days)


def state(*, complete: bool, completed_on: date | None, due: date, on: date) -> State:
    """A reporter's year on `on`. Complete with no known time (an aggregate expecting nothing) counts on time."""
    if complete and (completed_on is None or completed_on <= on):
        return State.ON_TIME if completed_on is None or completed_on <= due else State.LATE
    return State.MISSING if on > due else State.NOT_DUE


@dataclass(frozen=True, slots=True)
class Rates:
    expected: int
    reported: int
    on_time: int
    late: int
    missing: int
    not_due: int

    @property
    def reporting_rate(self) -> float | None:
        return self.reported / self.expected if self.expected else None

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.expected if self.expected else None


def rates(states: Iterable[State]) -> Rates:
    """Counts and rates over (indicator, reporter) items. A not-yet-due item is expected only once reported
    (DHIS2 counts the periods that are due)."""
    counts = dict.fromkeys(State, 0)
    for s in states:
        counts[s] += 1
    reported = counts[State.ON_TIME] + counts[State.LATE]
    return Rates(expected=reported + counts[State.MISSING], reported=reported, on_time=counts[State.ON_TIME],
                 late=counts[State.LATE], missing=counts[State.MISSING], not_due=counts[State.NOT_DUE])


def latest_due_year(on: date, due_days: Iterable[int]) -> int:
    """The latest calendar year already due on `on` for at least one indicator."""
    shortest = min(due_days, default=DEFAULT_DUE_DAYS)
    year = on.year - 1
    return year if on > due_date(year, shortest) else year - 1
