"""Plan deliverables: what a report may say, and the status of a deliverable on a day (SPEC "Plan deliverables")."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

DUE_SOON_DAYS = 60


class State(StrEnum):
    """What a department reports about its deliverable."""

    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    DROPPED = "dropped"


class DeliverableStatus(StrEnum):
    """Declaration order is the severity, worst first."""

    OVERDUE = "overdue"
    DONE_LATE = "done_late"
    DONE_AFTER_EXTENSION = "done_after_extension"  # done by an approved extension's date, after the original
    DUE_SOON = "due_soon"
    NOT_DUE = "not_due"
    STANDING = "standing"
    DROPPED = "dropped"
    DONE = "done"
    DONE_ON_TIME = "done_on_time"


SEVERITY: tuple[DeliverableStatus, ...] = tuple(DeliverableStatus)
_RANK = {s: i for i, s in enumerate(SEVERITY)}
# The on-time rate's denominator: deliverables with a deadline that were due or are done.
JUDGED = (DeliverableStatus.DONE_ON_TIME, DeliverableStatus.DONE_AFTER_EXTENSION, DeliverableStatus.DONE_LATE,
          DeliverableStatus.OVERDUE)
DONE = frozenset({DeliverableStatus.DONE_ON_TIME, DeliverableStatus.DONE_AFTER_EXTENSION,
                  DeliverableStatus.DONE_LATE, DeliverableStatus.DONE})
PROGRESS_DAYS = 30


@dataclass(frozen=True, slots=True)
class Report:
    """The state a report gives a deliverable."""

    state: State = State.PLANNED
    done_on: date | None = None
    document_no: str | None = None
    url: str | None = None
    note: str | None = None
    reported_at: datetime | None = None
    reported_by: str | None = None


@dataclass(frozen=True, slots=True)
class Deliverable:
    """A deliverable of the catalog with its report as known at some instant (plain data)."""

    code: str
    row: int
    n: int
    title: str
    deadline: date | None
    departments: tuple[str, ...]
    tasks: tuple[int, ...]
    source: str = "policies"
    note: str = ""
    row_number: str = ""
    deadline_text: str = ""
    report: Report = field(default_factory=Report)
    # Supervision, as known at the same instant: the latest approved extension's date, whether a request is
    # pending, how often progress is expected and from when, and the days (Shanghai) progress was reported.
    extended_to: date | None = None
    extension_pending: bool = False
    progress_days: int = PROGRESS_DAYS
    progress_from: date | None = None
    progress_reported: tuple[date, ...] = ()

    @property
    def effective_deadline(self) -> date | None:
        """The deadline that counts: an approved extension's date while it is later than the deadline in force."""
        return effective_deadline(self.deadline, self.extended_to)

    def status(self, on: date) -> "DeliverableStatus":
        """The status on day `on`."""
        return status_on(deadline=self.deadline, report=self.report, on=on, extended_to=self.extended_to)


def effective_deadline(deadline: date | None, extended_to: date | None) -> date | None:
    """An approved extension counts while it is later than the deadline (a patched deadline may overtake it)."""
    if deadline is None or extended_to is None:
        return deadline
    return max(deadline, extended_to)


def status_on(*, deadline: date | None, report: Report, on: date, extended_to: date | None = None
              ) -> DeliverableStatus:
    """The status on day `on`: a report counts as done only once its done_on has come. `done_on_time` is kept
    for the deadline itself; done by a later approved extension is `done_after_extension`."""
    effective = effective_deadline(deadline, extended_to)
    if report.state == State.DROPPED:
        return DeliverableStatus.DROPPED
    if report.state == State.DONE and report.done_on is not None and report.done_on <= on:
        if deadline is None or effective is None:
            return DeliverableStatus.DONE
        if report.done_on <= deadline:
            return DeliverableStatus.DONE_ON_TIME
        return DeliverableStatus.DONE_AFTER_EXTENSION if report.done_on <= effective else DeliverableStatus.DONE_LATE
    if deadline is None or effective is None:
        return DeliverableStatus.STANDING
    deadline = effective
    if on > deadline:
        return DeliverableStatus.OVERDUE
    if (deadline - on).days <= DUE_SOON_DAYS:
        return DeliverableStatus.DUE_SOON
    return DeliverableStatus.NOT_DUE


def worst(statuses: Iterable[DeliverableStatus]) -> DeliverableStatus | None:
    """The most severe status, or None when there is none."""
    return min(statuses, key=_RANK.__getitem__, default=None)


def count_by_status(statuses: Iterable[DeliverableStatus]) -> dict[str, int]:
    """Counts of every status, zeros included, in severity order."""
    out = {s.value: 0 for s in SEVERITY}
    for s in statuses:
        out[s.value] += 1
    return out


def on_time_rate(counts: Mapping[str, int]) -> float | None:
    """done_on_time / (done_on_time + done_after_extension + done_late + overdue); None when nothing was due
    (dropped ones apart)."""
    judged = sum(counts.get(s.value, 0) for s in JUDGED)
    return counts.get(DeliverableStatus.DONE_ON_TIME.value, 0) / judged if judged else None
