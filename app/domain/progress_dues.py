"""Progress reports due in a year, and how many came in time (the scorecard's progress component).

The same rule as app.domain.progress, walked forward: from `progress_from`, the next report is due
`progress_days` after the last one (or after `progress_from`); a due day counts once, on time when a report was
recorded in its window (on or before the due day), and the count restarts from the next report recorded.
Nothing is due once the deliverable is done or dropped, nor after the judged day."""

from datetime import date

from app.domain.deliverables import Deliverable
from app.domain.progress import expects_progress


def progress_dues(d: Deliverable, *, year: int, on: date) -> tuple[int, int]:
    """(on time, due) for the due days of `year` that have come by `on`."""
    start = d.progress_from
    if start is None or d.effective_deadline is None:
        return 0, 0
    reported = sorted(d.progress_reported)
    on_time = due = 0
    last = min(on, date(year, 12, 31))
    while True:
        due_day = start.fromordinal(start.toordinal() + d.progress_days)
        if due_day > last or not expects_progress(d, d.status(due_day)):
            break
        window = [r for r in reported if start < r <= due_day]
        if due_day.year == year:
            due += 1
            on_time += bool(window)
        if window:
            start = window[-1]
            continue
        later = [r for r in reported if r > due_day]
        if not later:
            break
        start = later[0]
    return on_time, due
