"""The status of a deliverable on a day, and what a report may say (pure rules, no database)."""

from datetime import date, timedelta

import pytest

from app.domain.deliverable_reports import ReportInput, ReportProblem, ValidReport, check_report
from app.domain.deliverables import (
    DeliverableStatus as S,
)
from app.domain.deliverables import (
    Report,
    State,
    count_by_status,
    on_time_rate,
    status_on,
    worst,
)

DEADLINE = date(2019, 11, 30)
NONE = Report()


def done(on: date) -> Report:
    return Report(state=State.DONE, done_on=on)


@pytest.mark.parametrize(("report", "on", "expected"), [
    (done(DEADLINE), DEADLINE, S.DONE_ON_TIME),  # done on the deadline day
    (done(DEADLINE + timedelta(days=1)), DEADLINE + timedelta(days=1), S.DONE_LATE),  # a day after
    (done(DEADLINE + timedelta(days=1)), DEADLINE + timedelta(days=400), S.DONE_LATE),
    (NONE, DEADLINE + timedelta(days=1), S.OVERDUE),  # the day after, no report
    (Report(state=State.IN_PROGRESS), DEADLINE + timedelta(days=1), S.OVERDUE),
    (NONE, DEADLINE, S.DUE_SOON),  # the deadline day itself is within the window
    (NONE, DEADLINE - timedelta(days=60), S.DUE_SOON),
    (NONE, DEADLINE - timedelta(days=61), S.NOT_DUE),
    # judged before the day it was done: not yet done
    (done(DEADLINE - timedelta(days=5)), DEADLINE - timedelta(days=6), S.DUE_SOON),
    (done(DEADLINE + timedelta(days=3)), DEADLINE + timedelta(days=2), S.OVERDUE),
    (done(DEADLINE - timedelta(days=5)), DEADLINE - timedelta(days=5), S.DONE_ON_TIME),
    (Report(state=State.DROPPED), DEADLINE + timedelta(days=1), S.DROPPED),
])
def test_status_with_a_deadline(report: Report, on: date, expected: S) -> None:
    assert status_on(deadline=DEADLINE, report=report, on=on) == expected


def test_undated_long_term_deliverables_stand_until_done() -> None:
    assert status_on(deadline=None, report=NONE, on=date(2030, 1, 1)) == S.STANDING
    assert status_on(deadline=None, report=Report(state=State.IN_PROGRESS), on=date(2030, 1, 1)) == S.STANDING
    assert status_on(deadline=None, report=done(date(2020, 5, 1)), on=date(2020, 5, 1)) == S.DONE
    assert status_on(deadline=None, report=done(date(2020, 5, 1)), on=date(2020, 4, 30)) == S.STANDING


def test_severity_and_on_time_rate() -> None:
    assert worst([S.DONE_ON_TIME, S.STANDING, S.DONE_LATE]) == S.DONE_LATE
    assert worst([S.DONE, S.DROPPED]) == S.DROPPED
    assert worst([]) is None
    counts = count_by_status([S.DONE_ON_TIME, S.DONE_ON_TIME, S.DONE_LATE, S.OVERDUE, S.STANDING, S.DROPPED])
    assert list(counts) == ["overdue", "done_late", "done_after_extension", "due_soon", "not_due", "standing",
                            "dropped", "done", "done_on_time"]
    assert on_time_rate(counts) == pytest.approx(2 / 4)
    # Done after an extension counts in the denominator, never in the numerator.
    assert on_time_rate(count_by_status([S.DONE_ON_TIME, S.DONE_AFTER_EXTENSION])) == pytest.approx(1 / 2)
    assert worst([S.DONE_AFTER_EXTENSION, S.DUE_SOON]) == S.DONE_AFTER_EXTENSION
    assert worst([S.DONE_AFTER_EXTENSION, S.DONE_LATE]) == S.DONE_LATE
    assert on_time_rate(count_by_status([S.STANDING, S.DROPPED, S.NOT_DUE])) is None


TODAY = date(2026, 11, 30)


def codes(result: ValidReport | list[ReportProblem]) -> list[str]:
    assert isinstance(result, list), result
    return [p.code for p in result]


@pytest.mark.parametrize(("raw", "expected"), [
    (ReportInput(state="finished"), ["unknown_state"]),
    (ReportInput(state=None), ["missing_state"]),
    (ReportInput(state="done"), ["done_needs_date"]),
    (ReportInput(state="done", done_on="2026-12-01"), ["future_date"]),
    (ReportInput(state="done", done_on="2019-02-30"), ["bad_date"]),
    (ReportInput(state="done", done_on="2019-11-30", url="ftp://edu.qingdao.gov.cn/a.pdf"), ["bad_url"]),
    (ReportInput(state="done", done_on="2019-11-30", url="javascript:alert(1)"), ["bad_url"]),
    (ReportInput(state="done", done_on="2019-11-30", url="http://"), ["bad_url"]),
    (ReportInput(state="in_progress", note="说" * 10_000), ["note_too_long"]),
    (ReportInput(state="dropped"), ["dropped_needs_note"]),
    (ReportInput(state="dropped", note="   "), ["dropped_needs_note"]),
    (ReportInput(state="planned", done_on="2019-01-01"), ["date_needs_done"]),
    (ReportInput(state="planned", document_no="青教发\x00"), ["control_characters"]),
])
def test_refused_reports_name_each_problem(raw: ReportInput, expected: list[str]) -> None:
    assert codes(check_report(raw, today=TODAY)) == expected


def test_a_good_report_is_normalised() -> None:
    ok = check_report(ReportInput(state="done", done_on="2026-11-30", document_no=" 青教发〔2019〕12号 ",
                                  url="https://edu.qingdao.gov.cn/x.html", note=""), today=TODAY)
    assert ok == ValidReport(state=State.DONE, done_on=TODAY, document_no="青教发〔2019〕12号",
                             url="https://edu.qingdao.gov.cn/x.html", note=None)
