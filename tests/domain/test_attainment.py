import math
from dataclasses import replace
from datetime import date

import pytest

from app.domain.attainment import (
    DEFAULT_YEAR_FROM,
    SEVERITY,
    Bounds,
    Judgement,
    Kind,
    Status,
    TargetSpec,
    YearDetail,
    judge,
    judge_each_unit,
    most_severe,
)
from app.domain.periods import parse_period
from app.domain.yearly import Measure, Observation, YearValue, own_yearly

PERCENT = Bounds(0.0, 100.0)
COUNT = Bounds(0.0, None)
OPEN = Bounds(None, None)


def yv(year: int, value: float, *, label: str | None = None, reported: int = 0, total: int = 0) -> YearValue:
    period = parse_period(label or str(year))
    return YearValue(year, value, None, None, period.label, period.end, True, reported, total)


def series(**values: float) -> dict[int, YearValue]:
    return {int(key[1:]): yv(int(key[1:]), value) for key, value in values.items()}


def reach(op: str, value: float, year: int | None, baseline: tuple[float, int] | None = None) -> TargetSpec:
    value_year = baseline or (None, None)
    return TargetSpec(Kind.REACH, op, value, year, baseline_value=value_year[0], baseline_year=value_year[1])


def every_year(op: str, value: float, year: int | None, year_from: int | None = None) -> TargetSpec:
    return TargetSpec(Kind.EVERY_YEAR, op, value, year, year_from)


def no_nan_or_inf(j: Judgement) -> bool:
    numbers = [j.actual, j.baseline, j.projection, j.pace, j.progress, j.attainment_ratio]
    return all(x is None or math.isfinite(x) for x in numbers)


# Worked example 2: lower is better, target 0.
def test_example_2_lower_is_better_on_track_then_missed() -> None:
    spec = reach("<=", 0, 2020)
    j = judge(spec=spec, series=series(y2017=120, y2019=30), on=date(2020, 1, 15), bounds=COUNT)
    raw = judge(spec=spec, series=series(y2017=120, y2019=30), on=date(2020, 1, 15), bounds=OPEN)
    assert raw.projection == pytest.approx(-15.0)
    assert j.projection == 0.0
    assert j.pace == pytest.approx(1.0)
    assert j.status is Status.ON_TRACK
    assert j.progress == pytest.approx(0.75)
    assert j.attainment_ratio == pytest.approx(0.75)  # "<=" with T = 0 takes P
    assert (j.baseline, j.baseline_year, j.actual) == (120, 2017, 30)

    later = judge(spec=spec, series=series(y2017=120, y2019=30, y2020=4), on=date(2021, 2, 1), bounds=COUNT)
    assert later.status is Status.MISSED
    assert (later.met, later.actual, later.actual_year, later.deadline_passed) == (False, 4, 2020, True)


# Worked example 3: every_year flow, reported quarterly.
def test_example_3_every_year_flow_missed() -> None:
    observations = [
        Observation(parse_period("2018"), 32_000_000),
        Observation(parse_period("2019"), 30_500_000),
    ]
    observations += [Observation(parse_period(f"2020Q{q}"), 7_000_000) for q in (1, 2, 3, 4)]
    yearly = own_yearly(measure=Measure.FLOW, observations=observations)
    assert yearly[2020].value == 28_000_000

    j = judge(spec=every_year(">=", 30_000_000, 2022, 2018), series=yearly, on=date(2021, 2, 1), bounds=COUNT)
    assert j.status is Status.MISSED
    assert j.years == (
        YearDetail(2018, 32_000_000, met=True, missing=False, pending=False),
        YearDetail(2019, 30_500_000, met=True, missing=False, pending=False),
        YearDetail(2020, 28_000_000, met=False, missing=False, pending=False),
        YearDetail(2021, None, met=None, missing=False, pending=True),
        YearDetail(2022, None, met=None, missing=False, pending=True),
    )
    assert j.progress == pytest.approx(2 / 5)
    assert j.attainment_ratio == pytest.approx(28 / 30)
    assert (j.projection, j.pace, j.deadline_passed) == (None, None, False)
    assert (j.actual, j.actual_year, j.actual_period, j.met) == (28_000_000, 2020, "2020Q4", False)


@pytest.mark.parametrize(
    ("values", "status", "pace"),
    [
        ({"y2019": 50, "y2020": 73.75}, Status.ON_TRACK, 0.95),  # projection 97.5: the boundary is on track
        ({"y2019": 50, "y2020": 70}, Status.AT_RISK, 0.8),
        ({"y2019": 50, "y2020": 65}, Status.AT_RISK, 0.6),  # projection 80: the boundary is at risk
        ({"y2019": 50, "y2020": 60}, Status.OFF_TRACK, 0.4),
        ({"y2019": 50, "y2020": 52}, Status.OFF_TRACK, 0.08),
        ({"y2019": 50, "y2020": 40}, Status.OFF_TRACK, -0.4),
    ],
)
def test_reach_before_deadline_by_pace(values: dict[str, float], status: Status, pace: float) -> None:
    j = judge(spec=reach(">=", 100, 2021), series=series(**values), on=date(2021, 3, 1), bounds=COUNT)
    assert j.pace == pytest.approx(pace, abs=1e-12)
    assert j.status is status


def test_reach_before_deadline_no_data() -> None:
    j = judge(spec=reach(">=", 98, 2020), series={}, on=date(2020, 3, 1), bounds=PERCENT)
    assert j.status is Status.NO_DATA
    assert (j.met, j.actual, j.baseline, j.projection, j.pace, j.progress, j.attainment_ratio) == (None,) * 7
    assert (j.reported, j.total) == (0, 0)


def test_reach_met_early_is_achieved() -> None:
    j = judge(spec=reach(">=", 98, 2022), series=series(y2019=98), on=date(2020, 3, 1), bounds=PERCENT)
    assert (j.status, j.met, j.attainment_ratio) == (Status.ACHIEVED, True, 1.0)


def test_reach_one_year_is_insufficient_data() -> None:
    j = judge(spec=reach(">=", 98, 2022), series=series(y2019=90), on=date(2020, 3, 1), bounds=PERCENT)
    assert j.status is Status.INSUFFICIENT_DATA
    assert (j.projection, j.pace, j.progress, j.baseline) == (None, None, 0.0, 90)


def test_declared_baseline_is_not_a_regression_point() -> None:
    values = series(y2018=85, y2019=90)
    derived = judge(spec=reach(">=", 98, 2020), series=values, on=date(2020, 3, 1), bounds=PERCENT)
    declared = judge(
        spec=reach(">=", 98, 2020, (80, 2016)),
        series=values,
        on=date(2020, 3, 1),
        bounds=PERCENT,
    )
    assert derived.projection == pytest.approx(95.0) and declared.projection == pytest.approx(95.0)
    assert (derived.baseline, derived.baseline_year) == (85, 2018)
    assert (declared.baseline, declared.baseline_year) == (80, 2016)
    assert derived.pace == pytest.approx(10 / 13) and declared.pace == pytest.approx(15 / 18)
    assert derived.progress == pytest.approx(5 / 13) and declared.progress == pytest.approx(10 / 18)
    assert (derived.status, declared.status) == (Status.AT_RISK, Status.AT_RISK)


def test_declared_baseline_alone_does_not_make_a_projection() -> None:
    spec = reach(">=", 98, 2022, (80, 2017))
    j = judge(spec=spec, series=series(y2019=90), on=date(2020, 3, 1), bounds=PERCENT)
    assert (j.status, j.projection, j.progress) == (Status.INSUFFICIENT_DATA, None, pytest.approx(10 / 18))


@pytest.mark.parametrize(
    ("values", "status", "share"),
    [
        ({"y2018": 95, "y2019": 85}, Status.OFF_TRACK, 0.0),  # B met T, A fell below it
        ({"y2018": 90, "y2019": 85}, Status.OFF_TRACK, 0.0),  # T = B
        ({"y2018": 95, "y2019": 96}, Status.ACHIEVED, 1.0),
        ({"y2018": 90, "y2019": 90}, Status.ACHIEVED, 1.0),
    ],
)
def test_baseline_already_meeting_the_target(values: dict[str, float], status: Status, share: float) -> None:
    j = judge(spec=reach(">=", 90, 2021), series=series(**values), on=date(2020, 3, 1), bounds=PERCENT)
    assert (j.status, j.progress, j.pace) == (status, share, share)
    assert no_nan_or_inf(j)


def test_declared_baseline_equal_to_target() -> None:
    spec = reach("<=", 20, 2022, (20, 2018))
    j = judge(spec=spec, series=series(y2019=25, y2020=23), on=date(2021, 3, 1), bounds=COUNT)
    assert (j.progress, j.pace, j.status) == (0.0, 0.0, Status.OFF_TRACK)


@pytest.mark.parametrize(
    ("bounds", "projection"),
    [(PERCENT, 100.0), (OPEN, 125.0), (Bounds(0.0, 150.0), 125.0), (Bounds(None, 110.0), 110.0)],
)
def test_projection_clamped_to_the_upper_bound(bounds: Bounds, projection: float) -> None:
    j = judge(spec=reach(">=", 98, 2021), series=series(y2018=80, y2019=95), on=date(2020, 3, 1), bounds=bounds)
    assert j.projection == pytest.approx(projection)


@pytest.mark.parametrize(("bounds", "projection"), [(COUNT, 0.0), (OPEN, -15.0), (Bounds(-5.0, None), -5.0)])
def test_projection_clamped_to_the_lower_bound(bounds: Bounds, projection: float) -> None:
    j = judge(spec=reach("<=", 0, 2020), series=series(y2017=120, y2019=30), on=date(2020, 1, 15), bounds=bounds)
    assert j.projection == pytest.approx(projection)


def test_projection_is_least_squares_over_all_visible_years() -> None:
    j = judge(
        spec=reach(">=", 100, 2022),
        series=series(y2018=10, y2019=30, y2020=20),
        on=date(2021, 3, 1),
        bounds=OPEN,
    )
    assert j.projection == pytest.approx(35.0)  # slope 5 through (2019, 20), not the last two points


def test_gross_rate_above_100_is_not_capped() -> None:
    bounds = Bounds(0.0, 150.0)
    j = judge(spec=reach(">=", 115, 2022), series=series(y2019=104, y2020=108), on=date(2021, 3, 1), bounds=bounds)
    assert j.projection == pytest.approx(116.0)
    assert j.pace == pytest.approx(12 / 11) and j.status is Status.ON_TRACK
    met = judge(spec=reach(">=", 100, 2022), series=series(y2020=108), on=date(2021, 3, 1), bounds=bounds)
    assert (met.status, met.attainment_ratio) == (Status.ACHIEVED, pytest.approx(1.08))


def test_lower_is_better_with_a_positive_target() -> None:
    j = judge(spec=reach("<=", 20, 2022), series=series(y2019=25, y2020=23), on=date(2021, 3, 1), bounds=COUNT)
    assert j.attainment_ratio == pytest.approx(20 / 23)
    assert j.progress == pytest.approx(0.4)
    assert j.projection == pytest.approx(19.0) and j.pace == pytest.approx(1.2)
    assert (j.status, j.met) == (Status.ON_TRACK, False)


def test_lower_is_better_at_zero_has_ratio_one() -> None:
    j = judge(spec=reach("<=", 20, 2022), series=series(y2019=25, y2020=0), on=date(2021, 3, 1), bounds=COUNT)
    assert (j.status, j.attainment_ratio) == (Status.ACHIEVED, 1.0)


@pytest.mark.parametrize(
    ("spec", "values", "ratio"),
    [
        (reach(">=", 0, 2022), {"y2019": 5, "y2020": 6}, 1.0),  # A / 0 is meaningless: P, which is 1 here
        (reach(">=", 0, 2022), {"y2019": -5, "y2020": -6}, -0.2),
        (reach("<=", 20, 2022), {"y2019": 25, "y2020": 1e-320}, None),  # T / A overflows: no figure
        (reach("<=", 0, 2022), {"y2019": 10, "y2020": 2}, 0.8),
    ],
)
def test_divisions_are_guarded(spec: TargetSpec, values: dict[str, float], ratio: float | None) -> None:
    j = judge(spec=spec, series=series(**values), on=date(2021, 3, 1), bounds=OPEN)
    assert j.attainment_ratio == (pytest.approx(ratio) if ratio is not None else None)
    assert no_nan_or_inf(j)


def test_a_projection_that_overflows_is_dropped() -> None:
    values = series(y2019=1e308, y2020=-1e308)
    j = judge(spec=reach(">=", 100, 2022), series=values, on=date(2021, 3, 1), bounds=OPEN)
    assert (j.projection, j.pace, j.status) == (None, None, Status.INSUFFICIENT_DATA)
    assert no_nan_or_inf(j)


@pytest.mark.parametrize(
    ("on", "status", "passed"),
    [(date(2020, 12, 31), Status.ON_TRACK, False), (date(2021, 1, 1), Status.NO_DATA, True)],
)
def test_deadline_passes_on_the_first_of_january(on: date, status: Status, passed: bool) -> None:
    j = judge(spec=reach(">=", 98, 2020), series=series(y2018=90, y2019=96), on=on, bounds=PERCENT)
    assert (j.status, j.deadline_passed) == (status, passed)


def test_after_deadline_achieved_and_missed() -> None:
    on = date(2021, 3, 1)
    hit = judge(spec=reach(">=", 98, 2020), series=series(y2019=90, y2020=98.5), on=on, bounds=PERCENT)
    miss = judge(spec=reach(">=", 98, 2020), series=series(y2019=99, y2020=97.9), on=on, bounds=PERCENT)
    assert (hit.status, hit.actual_year) == (Status.ACHIEVED, 2020)
    assert (miss.status, miss.actual, miss.met) == (Status.MISSED, 97.9, False)


def test_after_deadline_only_the_deadline_year_counts() -> None:
    values = series(y2019=99, y2021=99)
    j = judge(spec=reach(">=", 98, 2020), series=values, on=date(2022, 3, 1), bounds=PERCENT)
    assert (j.status, j.actual, j.actual_year) == (Status.NO_DATA, None, None)
    later = judge(spec=reach(">=", 98, 2020), series=series(y2020=97, y2021=99), on=date(2022, 3, 1), bounds=PERCENT)
    assert (later.status, later.actual_year) == (Status.MISSED, 2020)


def test_completeness_is_copied_from_the_actual_year() -> None:
    values = {2019: yv(2019, 90, reported=3, total=10), 2020: yv(2020, 91, reported=7, total=10)}
    j = judge(spec=reach(">=", 98, 2022), series=values, on=date(2021, 3, 1), bounds=PERCENT)
    assert (j.reported, j.total) == (7, 10)


def test_values_ending_after_the_day_or_not_finite_are_ignored() -> None:
    values = {2019: yv(2019, 90), 2020: yv(2020, 99), 2018: yv(2018, float("nan"))}
    j = judge(spec=reach(">=", 98, 2022), series=values, on=date(2020, 6, 30), bounds=PERCENT)
    assert (j.actual_year, j.baseline_year, j.status) == (2019, 2019, Status.INSUFFICIENT_DATA)


def outcome(detail: YearDetail) -> str:
    return "m" if detail.met else "f" if detail.met is False else "-" if detail.missing else "p"


EY99 = every_year(">=", 99, 2022)


# outcomes: the first window year, then per year m(et), f(ailed), -(missing), p(ending).
@pytest.mark.parametrize(
    ("spec", "values", "on", "outcomes", "status", "passed", "progress", "ratio"),
    [
        (EY99, {2019: 99.5}, "2021-03-01", "2019 m-pp", "no_data", False, 1 / 4, 99.5 / 99),
        (EY99, {2019: 98, 2021: 99.5}, "2022-03-01", "2019 f-mp", "missed", False, 1 / 4, 98 / 99),
        (EY99, {2019: 99.5, 2020: 99.2}, "2021-03-01", "2019 mmpp", "on_track", False, 2 / 4, 99.2 / 99),
        # A year ends when the next begins: on 31 December it is still pending, on 1 January it fails.
        (EY99, {2019: 99, 2020: 98}, "2020-12-31", "2019 mppp", "on_track", False, 1 / 4, 1.0),
        (EY99, {2019: 99, 2020: 98}, "2021-01-01", "2019 mfpp", "missed", False, 1 / 4, 98 / 99),
        (EY99, {2019: 99.5, 2020: 99.2, 2021: 99.8, 2022: 99.1}, "2023-01-05", "2019 mmmm", "achieved", True,
         1.0, 99.1 / 99),
        (EY99, {2019: 99.5, 2020: 99.2, 2022: 99.1}, "2023-01-05", "2019 mm-m", "no_data", True, 3 / 4, 99.1 / 99),
        (every_year("<=", 45, 2020, 2019), {2019: 40, 2020: 50}, "2021-03-01", "2019 mf", "missed", True, 1 / 2, 0.9),
    ],
)  # fmt: skip
def test_every_year(
    spec: TargetSpec,
    values: dict[int, float],
    on: str,
    outcomes: str,
    status: str,
    passed: bool,
    progress: float,
    ratio: float,
) -> None:
    j = judge(spec=spec, series={y: yv(y, v) for y, v in values.items()}, on=date.fromisoformat(on), bounds=PERCENT)
    first, codes = outcomes.split()
    assert [d.year for d in j.years] == list(range(int(first), int(first) + len(codes)))
    assert "".join(outcome(d) for d in j.years) == codes
    assert (j.status, j.deadline_passed, j.projection, j.pace) == (Status(status), passed, None, None)
    assert j.progress == pytest.approx(progress)
    assert j.attainment_ratio == pytest.approx(ratio)


def test_every_year_window_defaults_to_2019_and_shows_missing_years() -> None:
    j = judge(spec=EY99, series=series(y2019=99.5), on=date(2021, 3, 1), bounds=PERCENT)
    assert DEFAULT_YEAR_FROM == 2019 and j.years[0].year == 2019
    assert j.years[1] == YearDetail(2020, None, met=None, missing=True, pending=False)
    assert (j.actual, j.actual_year, j.met) == (99.5, 2019, True)


def test_every_year_current_year_below_target_is_pending_not_failed() -> None:
    values = {**series(y2019=32e6), 2020: yv(2020, 14e6, label="2020S1")}
    j = judge(spec=every_year(">=", 30e6, 2022), series=values, on=date(2020, 9, 1), bounds=COUNT)
    assert j.status is Status.ON_TRACK
    assert j.years[1] == YearDetail(2020, 14e6, met=None, missing=False, pending=True)
    assert j.attainment_ratio == pytest.approx(32 / 30)  # a pending year is not yet judged


def test_every_year_current_year_already_meeting_counts() -> None:
    values = {**series(y2019=32e6), 2020: yv(2020, 31e6, label="2020S1")}
    j = judge(spec=every_year(">=", 30e6, 2021), series=values, on=date(2020, 9, 1), bounds=COUNT)
    assert j.years[1] == YearDetail(2020, 31e6, met=True, missing=False, pending=False)
    assert j.progress == pytest.approx(2 / 3)


UNITS_SPEC = TargetSpec(Kind.EACH_UNIT, ">=", 1, 2022)
_SILENT = judge(spec=reach(">=", 1, 2022), series={}, on=date(2021, 6, 30), bounds=COUNT)


@pytest.mark.parametrize(
    ("kids", "units_total", "on", "status", "units_met", "share", "met"),
    [
        ("achieved achieved achieved", 3, "2021-06-30", "achieved", 3, 1.0, True),
        ("achieved achieved", 2, "2023-02-01", "achieved", 2, 1.0, True),
        ("achieved no_data", 2, "2023-02-01", "missed", 1, 0.5, False),
        ("achieved on_track", 2, "2023-02-01", "missed", 1, 0.5, False),
        ("achieved insufficient_data", 2, "2021-06-30", "insufficient_data", 1, 0.5, False),
        ("achieved at_risk on_track", 3, "2021-06-30", "at_risk", 1, 1 / 3, False),
        ("on_track off_track no_data insufficient_data", 4, "2021-06-30", "off_track", 0, 0.0, False),
        ("achieved achieved achieved", 4, "2021-06-30", "no_data", 3, 0.75, False),  # one child not judged
        ("", 0, "2023-01-01", "no_data", 0, None, None),
    ],
)
def test_each_unit_parent(
    kids: str, units_total: int, on: str, status: str, units_met: int, share: float | None, met: bool | None
) -> None:
    statuses = [Status(s) for s in kids.split()]
    children = [replace(_SILENT, status=s, actual=1.0 if s is Status.ACHIEVED else None) for s in statuses]
    day = date.fromisoformat(on)
    parent = judge_each_unit(spec=UNITS_SPEC, children=children, units_total=units_total, on=day)
    assert (parent.status, parent.units_met, parent.units_total, parent.met) == (
        Status(status),
        units_met,
        units_total,
        met,
    )
    assert parent.attainment_ratio == (pytest.approx(share) if share is not None else None)
    assert parent.progress == parent.attainment_ratio
    assert (parent.reported, parent.total) == (statuses.count(Status.ACHIEVED), units_total)
    assert parent.deadline_passed is (day.year > 2022)


def test_severity_order_and_most_severe() -> None:
    assert [s.value for s in SEVERITY] == "missed off_track no_data insufficient_data at_risk on_track achieved".split()
    assert most_severe([Status.ACHIEVED, Status.NO_DATA, Status.AT_RISK]) is Status.NO_DATA
    assert most_severe([Status.ON_TRACK, Status.OFF_TRACK, Status.MISSED]) is Status.MISSED
    assert most_severe(iter([Status.ACHIEVED])) is Status.ACHIEVED
    assert most_severe([]) is Status.NO_DATA


def test_target_spec_refuses_an_unknown_operator() -> None:
    with pytest.raises(ValueError, match="op"):
        TargetSpec(Kind.REACH, ">", 1, 2020)
