"""Progress reports due in a year and on time, walked by hand."""

from datetime import date

from app.domain.deliverables import Deliverable, Report, State
from app.domain.progress_dues import progress_dues


def _d(reported: tuple[date, ...], *, report: Report | None = None) -> Deliverable:
    return Deliverable(code="r03-1", row=3, n=1, title="t", deadline=date(2026, 12, 31), departments=("jijiao",),
                       tasks=(4,), progress_days=30, progress_from=date(2026, 1, 1), progress_reported=reported,
                       report=report or Report())


def test_on_time_late_and_not_yet_due() -> None:
    # due 01-31: reported 01-20 (on time); next due 02-19: reported 02-25 (late); next due 03-27: 03-27 (on time,
    # the last day); next due 04-26 is after the judged day 04-20: not counted.
    d = _d((date(2026, 1, 20), date(2026, 2, 25), date(2026, 3, 27)))
    assert progress_dues(d, year=2026, on=date(2026, 4, 20)) == (2, 3)


def test_silence_counts_one_missed_due_day() -> None:
    assert progress_dues(_d(()), year=2026, on=date(2026, 6, 1)) == (0, 1)


def test_done_ends_the_count_and_another_year_has_none() -> None:
    done = Report(state=State.DONE, done_on=date(2026, 2, 1))
    assert progress_dues(_d((date(2026, 1, 20),), report=done), year=2026, on=date(2026, 6, 1)) == (1, 1)
    assert progress_dues(_d((date(2026, 1, 20),)), year=2025, on=date(2026, 6, 1)) == (0, 0)
