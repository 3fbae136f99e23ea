"""Completeness-aware judging (docs/ATTAINMENT.md): worked examples 1, 5 and 6 with their exact numbers,
incomplete years, open-ended targets, thresholds and trend — over plain data, no database."""

from datetime import date

import pytest

from app.domain.attainment import Bounds, Kind, Status, TargetSpec, judge
from app.domain.completeness import Scope, Tree, mark, needed
from app.domain.periods import parse_period
from app.domain.yearly import Measure, Observation, YearValue, flow_covers, own_yearly, rollup

CITY = "370200"
DISTRICTS = ["370202", "370203", "370211", "370212", "370213", "370214", "370215", "370281", "370283", "370285"]
X, Z = DISTRICTS[0], DISTRICTS[1]
CHILDREN = {CITY: DISTRICTS}
PARENTS: dict[str, str | None] = {CITY: None, **{d: CITY for d in DISTRICTS}}
PERCENT = Bounds(0.0, 100.0)
COUNT = Bounds(0.0, None)


def rates(data: dict[str, dict[int, tuple[float, float]]]) -> dict[str, dict[int, YearValue]]:
    own = {
        unit: own_yearly(measure=Measure.RATE, observations=[
            Observation(parse_period(str(y)), 100 * n / d, n, d) for y, (n, d) in years.items()])
        for unit, years in data.items()
    }
    return rollup(measure=Measure.RATE, children=CHILDREN, own=own, root=CITY)


def marked(series: dict[str, dict[int, YearValue]], min_completeness: float = 1.0) -> dict[str, dict[int, YearValue]]:
    tree = Tree(children=CHILDREN, parents=PARENTS, reporters=DISTRICTS)
    return mark(tree=tree, scope=Scope(frozenset(DISTRICTS), min_completeness), series=series)


def reach(value: float, year: int | None, op: str = ">=", **kw: float) -> TargetSpec:
    return TargetSpec(Kind.REACH, op, value, year, **kw)  # type: ignore[arg-type]


def test_example_1_rate_reach_with_min_completeness() -> None:
    data = {X: {2018: (900, 1000), 2019: (950, 1000)}, Z: {2018: (80, 100), 2019: (90, 100)}}
    series = marked(rates(data), 0.2)
    city = series[CITY]
    assert city[2018].value == pytest.approx(980 / 1100 * 100) and round(city[2018].value, 2) == 89.09
    assert round(city[2019].value, 2) == 94.55 and city[2019].complete
    j = judge(spec=reach(98, 2020), series=city, on=date(2020, 3, 1), bounds=PERCENT)
    assert j.status is Status.ON_TRACK and j.actual_year == 2019
    assert round(j.actual or 0, 2) == 94.55 and round(j.projection or 0, 2) == 100.00
    assert round(j.baseline or 0, 2) == 89.09 and round(j.pace or 0, 2) == 1.22
    assert round(j.progress or 0, 2) == 0.61 and round(j.attainment_ratio or 0, 4) == 0.9647
    assert (j.reported, j.total) == (2, 10)

    data[X][2020], data[Z][2020] = (990, 1000), (95, 100)
    series = marked(rates(data), 0.2)
    assert round(series[CITY][2020].value, 2) == 98.64
    later = date(2021, 3, 1)
    assert judge(spec=reach(98, 2020), series=series[CITY], on=later, bounds=PERCENT).status is Status.ACHIEVED
    # The inherited rows judge each district with the city's threshold (a declared baseline is the city's).
    assert judge(spec=reach(98, 2020), series=series[X], on=later, bounds=PERCENT).status is Status.ACHIEVED
    assert judge(spec=reach(98, 2020), series=series[Z], on=later, bounds=PERCENT).status is Status.MISSED


def test_example_1_with_the_default_min_completeness_is_not_judged() -> None:
    data = {X: {2018: (900, 1000), 2019: (950, 1000)}, Z: {2018: (80, 100), 2019: (90, 100)}}
    city = marked(rates(data))[CITY]
    j = judge(spec=reach(98, 2020), series=city, on=date(2020, 3, 1), bounds=PERCENT)
    assert (j.status, j.reason, j.actual) == (Status.INSUFFICIENT_DATA, "incomplete", None)
    assert j.partial is not None and round(j.partial.value, 2) == 94.55 and j.partial.year == 2019


def example_5() -> dict[str, dict[int, tuple[float, float]]]:
    data: dict[str, dict[int, tuple[float, float]]] = {d: {2021: (960, 1000)} for d in DISTRICTS}
    for d in DISTRICTS[:8]:  # 平度市 370283 and 莱西市 370285 fall silent in 2022
        data[d][2022] = (990, 1000)
    return data


def test_example_5_silence_is_not_success() -> None:
    series = marked(rates(example_5()))
    city = series[CITY]
    assert city[2021].value == pytest.approx(96.0) and city[2021].complete
    assert city[2022].value == pytest.approx(99.0) and not city[2022].complete
    assert (city[2022].reported, city[2022].total) == (8, 10)
    j = judge(spec=reach(98, 2022), series=city, on=date(2023, 2, 1), bounds=PERCENT)
    assert (j.status, j.reason, j.actual, j.met) == (Status.INSUFFICIENT_DATA, "incomplete", None, None)
    assert j.partial is not None and j.partial.value == pytest.approx(99.0) and (j.reported, j.total) == (8, 10)

    relaxed = marked(rates(example_5()), 0.8)[CITY]
    ok = judge(spec=reach(98, 2022), series=relaxed, on=date(2023, 2, 1), bounds=PERCENT)
    assert (ok.status, ok.reason, ok.actual_year) == (Status.ACHIEVED, None, 2022)
    assert ok.actual == pytest.approx(99.0) and (ok.reported, ok.total) == (8, 10)


def test_before_the_deadline_an_incomplete_year_is_shown_not_judged() -> None:
    city = marked(rates(example_5()))[CITY]
    j = judge(spec=reach(98, 2024), series=city, on=date(2023, 2, 1), bounds=PERCENT)
    assert j.actual_year == 2021 and j.actual == pytest.approx(96.0)  # A: the latest complete year
    assert j.partial is not None and j.partial.year == 2022
    assert j.projection is None and j.status is Status.INSUFFICIENT_DATA  # one complete year only


def yearly(values: dict[int, float], *, complete: bool = True) -> dict[int, YearValue]:
    out = {}
    for y, v in values.items():
        p = parse_period(str(y))
        out[y] = YearValue(y, v, None, None, p.label, p.end, True, covers=complete, complete=complete)
    return out


def test_example_6_standing_target() -> None:
    spec = reach(400, None)
    series = yearly({2019: 251, 2020: 380, 2021: 416})
    j = judge(spec=spec, series=series, on=date(2022, 2, 1), bounds=COUNT)
    assert (j.status, j.actual, j.actual_year, j.met, j.deadline_passed) == (Status.ON_TRACK, 416, 2021, True, False)
    assert [(d.year, d.value, d.met) for d in j.years] == [(2019, 251, False), (2020, 380, False), (2021, 416, True)]
    assert j.projection is None and j.progress == pytest.approx((416 - 251) / (400 - 251))
    assert j.attainment_ratio == pytest.approx(416 / 400) and j.trend == "improving"

    series = yearly({2019: 251, 2020: 380, 2021: 416, 2022: 390})
    later = judge(spec=spec, series=series, on=date(2023, 2, 1), bounds=COUNT)
    assert (later.status, later.actual, later.actual_year, later.met) == (Status.OFF_TRACK, 390, 2022, False)


def test_standing_target_is_never_achieved_or_missed_and_uses_this_year_when_met() -> None:
    spec = reach(400, None)
    this_year = yearly({2021: 380, 2022: 420})  # 2022's stock is complete with any period ending in it
    assert judge(spec=spec, series=this_year, on=date(2022, 12, 31), bounds=COUNT).status is Status.ON_TRACK
    short = yearly({2021: 380})
    assert judge(spec=spec, series=short, on=date(2030, 1, 1), bounds=COUNT).status is Status.NO_DATA
    assert judge(spec=spec, series=short, on=date(2022, 1, 1), bounds=COUNT).status is Status.OFF_TRACK


def test_every_year_with_an_incomplete_ended_year() -> None:
    spec = TargetSpec(Kind.EVERY_YEAR, ">=", 99, 2022, 2019)
    values = {**yearly({2019: 99.5, 2020: 99.1}), **yearly({2021: 97.0}, complete=False)}
    j = judge(spec=spec, series=values, on=date(2022, 3, 1), bounds=PERCENT)
    assert (j.status, j.reason) == (Status.INSUFFICIENT_DATA, "incomplete")  # never failed: not all reported
    assert [(d.year, d.met, d.incomplete, d.pending) for d in j.years] == [
        (2019, True, False, False), (2020, True, False, False), (2021, None, True, False), (2022, None, False, True)]
    after = judge(spec=spec, series={**values, **yearly({2021: 97.0})}, on=date(2022, 3, 1), bounds=PERCENT)
    assert after.status is Status.MISSED


def test_a_partial_flow_already_meeting_the_threshold_counts_as_met() -> None:
    obs = [Observation(parse_period("2021Q1"), 20_000_000), Observation(parse_period("2021Q2"), 12_000_000)]
    own = own_yearly(measure=Measure.FLOW, observations=obs)
    assert not own[2021].covers
    value = {2021: YearValue(2021, own[2021].value, None, None, "2021Q2", date(2021, 6, 30), True, covers=False,
                             complete=False)}
    spec = TargetSpec(Kind.EVERY_YEAR, ">=", 30_000_000, 2021, 2021)
    j = judge(spec=spec, series=value, on=date(2021, 7, 1), bounds=COUNT, flow=True)
    assert j.status is Status.ON_TRACK and j.years[0].met is True and j.years[0].incomplete
    assert judge(spec=spec, series=value, on=date(2021, 7, 1), bounds=COUNT).status is Status.NO_DATA


def test_flow_covers_the_year_only_with_every_part() -> None:
    def covers(*labels: str) -> bool:
        return flow_covers(parse_period(label) for label in labels)

    assert covers("2020") and covers("2020Q1", "2020Q2", "2020Q3", "2020Q4") and covers("2020S1", "2020S2")
    assert covers(*(f"2020-{m:02d}" for m in range(1, 13)))
    assert not covers("2020Q1", "2020Q2", "2020Q3") and not covers("2020S2") and not covers("2019Sep")


def test_per_target_thresholds_change_the_pace_status() -> None:
    series = yearly({2018: 80, 2019: 84})
    default = judge(spec=reach(100, 2022), series=series, on=date(2020, 3, 1), bounds=PERCENT)
    assert default.pace == pytest.approx(0.8) and default.status is Status.AT_RISK
    strict = judge(spec=reach(100, 2022, on_track=0.8, at_risk=0.5), series=series, on=date(2020, 3, 1),
                   bounds=PERCENT)
    assert strict.status is Status.ON_TRACK


@pytest.mark.parametrize(
    ("values", "op", "expected"),
    [({2018: 80, 2019: 90}, ">=", "improving"), ({2018: 90, 2019: 80}, ">=", "worsening"),
     ({2018: 90, 2019: 80}, "<=", "improving"), ({2018: 90, 2019: 90.1}, ">=", "flat"), ({2019: 90}, ">=", None)],
)
def test_trend(values: dict[int, float], op: str, expected: str | None) -> None:
    j = judge(spec=reach(100, 2022, op), series=yearly(values), on=date(2020, 3, 1), bounds=PERCENT)
    assert j.trend == expected


def test_incomplete_years_are_no_points_of_the_trend_or_baseline() -> None:
    values = {**yearly({2018: 50}, complete=False), **yearly({2019: 80, 2020: 81})}
    j = judge(spec=reach(100, 2022), series=values, on=date(2021, 3, 1), bounds=PERCENT)
    assert (j.baseline, j.baseline_year) == (80, 2019) and j.trend == "flat"


def test_needed_share_is_exact_for_decimal_fractions() -> None:
    assert [needed(m, 10) for m in (0.2, 0.7, 0.8, 1.0, 0.0)] == [2, 7, 8, 10, 0]
    assert needed(0.5, 3) == 2


def test_only_expected_children_count_and_a_removed_reporter_is_not_expected() -> None:
    series = rates({d: {2021: (990, 1000)} for d in DISTRICTS[:9]})
    everyone = Tree(children=CHILDREN, parents=PARENTS, reporters=DISTRICTS)
    city = mark(tree=everyone, scope=Scope(frozenset(DISTRICTS)), series=series)[CITY][2021]
    assert (city.complete, city.reported, city.total) == (False, 9, 10)
    fewer = Tree(children=CHILDREN, parents=PARENTS, reporters=DISTRICTS[:9])
    city = mark(tree=fewer, scope=Scope(frozenset(DISTRICTS[:9])), series=series)[CITY][2021]
    assert (city.complete, city.reported, city.total) == (True, 9, 9)


def test_a_school_below_a_reporting_district_is_not_expected_but_a_school_reporter_is() -> None:
    schools = {X: ["s1", "s2"]}
    children = {**CHILDREN, **schools}
    parents = {**PARENTS, "s1": X, "s2": X}
    own = {"s1": own_yearly(measure=Measure.STOCK, observations=[Observation(parse_period("2021"), 3)])}
    series = rollup(measure=Measure.STOCK, children=children, own=own, root=CITY)
    district_level = Tree(children=children, parents=parents, reporters=[X])
    got = mark(tree=district_level, scope=Scope(frozenset([X])), series=series)
    assert got[X][2021].complete and got[CITY][2021].complete and got[X][2021].total == 0
    school_level = Tree(children=children, parents=parents, reporters=["s1", "s2"])
    got = mark(tree=school_level, scope=Scope(frozenset(["s1", "s2"])), series=series)
    assert (got[X][2021].complete, got[X][2021].reported, got[X][2021].total) == (False, 1, 2)
    assert not got[CITY][2021].complete and got[CITY][2021].total == 1
