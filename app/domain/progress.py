"""When a deliverable expects a progress report (SPEC "Supervision"): every `progress_days` until it is done,
counted from `progress_from` or the last report recorded on or before the judged day."""

from datetime import date, timedelta

from app.domain.deliverables import DONE, Deliverable, DeliverableStatus

SUMMARY_MAX = 2000
NEXT_STEPS_MAX = 2000


def last_report(d: Deliverable, on: date) -> date | None:
    """The day (Asia/Shanghai) of the last progress report recorded on or before `on`."""
    return max((day for day in d.progress_reported if day <= on), default=None)


def expects_progress(d: Deliverable, status: DeliverableStatus) -> bool:
    """Only a deliverable with a deadline that is neither done nor dropped is pressed for progress."""
    return d.effective_deadline is not None and status not in DONE and status != DeliverableStatus.DROPPED


def progress_due_on(d: Deliverable, on: date) -> date | None:
    """The day by which the next progress report is due, judged on `on`; None when nothing is counted yet."""
    start = last_report(d, on)
    if start is None or (d.progress_from is not None and d.progress_from > start):
        start = d.progress_from
    if start is None or start > on:
        return None
    return start + timedelta(days=d.progress_days)


def progress_overdue(d: Deliverable, on: date, status: DeliverableStatus | None = None) -> bool:
    """Whether a progress report is overdue on `on`: expected, and the due day has passed."""
    status = d.status(on) if status is None else status
    due = progress_due_on(d, on)
    return expects_progress(d, status) and due is not None and on > due


def recent_progress(d: Deliverable, on: date) -> bool:
    """Whether a progress report was recorded in the last `progress_days` up to `on` (both ends included)."""
    last = last_report(d, on)
    return last is not None and last >= on - timedelta(days=d.progress_days)
