import itertools
from datetime import date

import pytest

from app.domain.periods import parse_period
from app.domain.yearly import Measure, Observation, YearValue, aggregate, own_yearly, rollup

CITY = "370200"
DISTRICTS = [f"3702{n:02d}" for n in range(1, 11)]
X, Z = DISTRICTS[1], DISTRICTS[6]


def obs(label: str, value: float, n: float | None = None, d: float | None = None) -> Observation:
    return Observation(period=parse_period(label), value=value, numerator=n, denominator=d)


def yv(
    year: int,
    value: float,
    n: float | None = None,
    d: float | None = None,
    *,
    label: str | None = None,
    own: bool = True,
) -> YearValue:
    period = parse_period(label or str(year))
    return YearValue(year, value, n, d, period.label, period.end, own, period_start=period.start)


def test_stock_takes_the_latest_ending_period_of_the_year() -> None:
    result = own_yearly(
        measure=Measure.STOCK,
        observations=[obs("2020Q1", 5), obs("2020Q3", 7), obs("2020S1", 6), obs("2019-12", 3)],
    )
    assert result == {
        2019: YearValue(2019, 3, None, None, "2019-12", date(2019, 12, 31), own=True),
        2020: YearValue(2020, 7, None, None, "2020Q3", date(2020, 9, 30), own=True),
    }
    assert (result[2020].reported, result[2020].total) == (0, 0)


@pytest.mark.parametrize(
    "order",
    list(itertools.permutations([("2020", 10.0), ("2020S2", 9.0), ("2020Q4", 8.0), ("2020-12", 7.0)])),
)
def test_stock_ties_on_the_end_go_to_the_coarsest_period(order: tuple[tuple[str, float], ...]) -> None:
    result = own_yearly(measure=Measure.STOCK, observations=[obs(label, value) for label, value in order])
    assert (result[2020].value, result[2020].period) == (10.0, "2020")


def test_quarter_beats_month_on_the_same_end() -> None:
    result = own_yearly(measure=Measure.STOCK, observations=[obs("2020-09", 1), obs("2020Q3", 2)])
    assert result[2020].period == "2020Q3"


def test_rate_keeps_the_numerator_and_denominator_of_the_chosen_period() -> None:
    result = own_yearly(
        measure=Measure.RATE,
        observations=[obs("2020Q2", 95.0, 950, 1000), obs("2020Q4", 97.1, 971, 1000)],
    )
    assert (result[2020].value, result[2020].numerator, result[2020].denominator) == (97.1, 971, 1000)


def test_a_school_year_counts_for_the_year_in_which_it_ends() -> None:
    result = own_yearly(measure=Measure.STOCK, observations=[obs("2020Sep", 40), obs("2021S1", 30), obs("2020", 20)])
    assert (result[2020].value, result[2021].value, result[2021].period) == (20, 40, "2020Sep")


def test_flow_sums_the_periods_of_each_year() -> None:
    quarters = [obs(f"2020Q{q}", 7_000_000) for q in (1, 2, 3, 4)]
    result = own_yearly(measure=Measure.FLOW, observations=[obs("2019", 30_500_000), *quarters])
    assert result[2020] == YearValue(2020, 28_000_000, None, None, "2020Q4", date(2020, 12, 31), own=True)
    assert result[2019].value == 30_500_000


def test_flow_names_the_latest_ending_period_and_drops_ratio_parts() -> None:
    result = own_yearly(measure=Measure.FLOW, observations=[obs("2020-03", 1, 1, 2), obs("2020-01", 2, 1, 2)])
    assert (result[2020].value, result[2020].period, result[2020].numerator) == (3, "2020-03", None)


def test_own_yearly_of_nothing_is_empty() -> None:
    assert own_yearly(measure=Measure.RATE, observations=[]) == {}


def test_rate_aggregates_as_pooled_numerators_not_mean_of_percentages() -> None:
    children = [yv(2018, 90.0, 900, 1000, label="2018"), yv(2018, 80.0, 80, 100, label="2018Q4")]
    result = aggregate(measure=Measure.RATE, year=2018, children=children, total=10)
    assert result is not None
    assert result.value == pytest.approx(980 / 1100 * 100, rel=1e-12)
    assert result.value == pytest.approx(89.0909, abs=5e-5)  # the mean of 90 and 80 would be 85
    assert (result.numerator, result.denominator) == (980, 1100)
    assert (result.reported, result.total, result.own) == (2, 10, False)
    assert (result.period, result.period_end) == ("2018", date(2018, 12, 31))


def test_rate_aggregate_skips_children_without_numerator_and_denominator() -> None:
    children = [yv(2019, 50.0, 5, 10), yv(2019, 99.0), yv(2019, 70.0, 7, None)]
    result = aggregate(measure=Measure.RATE, year=2019, children=children, total=3)
    assert result is not None
    assert (result.value, result.reported, result.total) == (50.0, 1, 3)


def test_gross_rate_above_100_is_not_capped() -> None:
    result = aggregate(measure=Measure.RATE, year=2019, children=[yv(2019, 120.0, 1200, 1000)], total=1)
    assert result is not None and result.value == pytest.approx(120.0)


@pytest.mark.parametrize(
    "children",
    [[], [yv(2019, 0.0, 0, 0), yv(2019, 0.0, 0, 0)], [yv(2019, 50.0), yv(2019, 60.0)]],
)
def test_rate_aggregate_without_a_denominator_is_none(children: list[YearValue]) -> None:
    assert aggregate(measure=Measure.RATE, year=2019, children=children, total=5) is None


@pytest.mark.parametrize("measure", [Measure.STOCK, Measure.FLOW])
def test_stock_and_flow_aggregate_as_sums(measure: Measure) -> None:
    children = [yv(2020, 3, label="2020Q3"), yv(2020, 4, label="2020-11"), yv(2020, 5, label="2020S1")]
    result = aggregate(measure=measure, year=2020, children=children, total=4)
    assert result == YearValue(2020, 12, None, None, "2020-11", date(2020, 11, 30), False, 3, 4)


@pytest.mark.parametrize("measure", list(Measure))
def test_aggregate_of_no_children_is_none(measure: Measure) -> None:
    assert aggregate(measure=measure, year=2020, children=[], total=10) is None


def test_rollup_city_from_two_of_ten_districts() -> None:
    own = {
        X: own_yearly(measure=Measure.RATE, observations=[obs("2018", 90, 900, 1000), obs("2019", 95, 950, 1000)]),
        Z: own_yearly(measure=Measure.RATE, observations=[obs("2018", 80, 80, 100), obs("2019", 90, 90, 100)]),
    }
    result = rollup(measure=Measure.RATE, children={CITY: DISTRICTS}, own=own, root=CITY)
    assert set(result) == {CITY, X, Z}
    city = result[CITY]
    assert list(city) == [2018, 2019]
    assert city[2018].value == pytest.approx(89.0909, abs=5e-5)
    assert city[2019].value == pytest.approx(94.5455, abs=5e-5)
    assert city[2019].value == pytest.approx(1040 / 1100 * 100, rel=1e-12)
    assert (city[2019].reported, city[2019].total, city[2019].own) == (2, 10, False)
    assert result[X] == own[X]


def test_rollup_school_district_city_where_own_values_win() -> None:
    children = {CITY: ["D1", "D2"], "D1": ["S1", "S2"], "D2": ["S3"]}
    own = {
        "S1": {2019: yv(2019, 10), 2020: yv(2020, 11)},
        "S2": {2019: yv(2019, 20), 2020: yv(2020, 22)},
        "S3": {2020: yv(2020, 5)},
        "D1": {2020: yv(2020, 100)},  # the district's own count beats its schools' 33
    }
    result = rollup(measure=Measure.STOCK, children=children, own=own, root=CITY)
    assert result["D1"][2019] == YearValue(2019, 30, None, None, "2019", date(2019, 12, 31), False, 2, 2)
    assert result["D1"][2020].value == 100 and result["D1"][2020].own
    assert result["D2"][2020].value == 5 and (result["D2"][2020].reported, result["D2"][2020].total) == (1, 1)
    assert result[CITY][2020].value == 105
    assert (result[CITY][2019].value, result[CITY][2019].reported, result[CITY][2019].total) == (30, 1, 2)
    assert 2019 not in result["D2"]


def test_rollup_pools_rates_through_every_level() -> None:
    children = {CITY: ["D1", "D2"], "D1": ["S1", "S2"]}
    own = {
        "S1": {2020: yv(2020, 100.0, 10, 10)},
        "S2": {2020: yv(2020, 0.0, 0, 90)},
        "D2": {2020: yv(2020, 50.0, 50, 100)},
    }
    result = rollup(measure=Measure.RATE, children=children, own=own, root=CITY)
    assert result["D1"][2020].value == pytest.approx(10.0)
    assert (result[CITY][2020].numerator, result[CITY][2020].denominator) == (60, 200)
    assert result[CITY][2020].value == pytest.approx(30.0)  # the mean of 10% and 50% would be 30 too…
    own["D2"] = {2020: yv(2020, 50.0, 150, 300)}
    pooled = rollup(measure=Measure.RATE, children=children, own=own, root=CITY)
    assert pooled[CITY][2020].value == pytest.approx(160 / 400 * 100)  # …but not once the sizes differ


def test_rollup_city_own_value_wins_and_other_subtrees_are_left_out() -> None:
    children = {CITY: ["D1"], "D1": ["S1"], "OTHER": ["S9"]}
    own = {CITY: {2020: yv(2020, 1)}, "S1": {2020: yv(2020, 7), 2021: yv(2021, 8)}, "S9": {2020: yv(2020, 9)}}
    result = rollup(measure=Measure.FLOW, children=children, own=own, root=CITY)
    assert set(result) == {CITY, "D1", "S1"}
    assert result[CITY][2020].value == 1 and result[CITY][2020].own
    assert result[CITY][2021].value == 8 and not result[CITY][2021].own


def test_rollup_from_a_leaf_root_is_its_own_series() -> None:
    own = {"S1": {2020: yv(2020, 7)}}
    assert rollup(measure=Measure.STOCK, children={}, own=own, root="S1") == {"S1": {2020: yv(2020, 7)}}
    assert rollup(measure=Measure.STOCK, children={}, own={}, root="S1") == {}


def test_rollup_four_thousand_schools() -> None:
    children: dict[str, list[str]] = {CITY: DISTRICTS}
    own: dict[str, dict[int, YearValue]] = {}
    for district in DISTRICTS:
        schools = [f"{district}-{i:03d}" for i in range(400)]
        children[district] = schools
        for school in schools:
            own[school] = {year: yv(year, 1) for year in range(2018, 2023)}
    result = rollup(measure=Measure.STOCK, children=children, own=own, root=CITY)
    assert len(result) == 1 + 10 + 4000
    assert {year: v.value for year, v in result[CITY].items()} == dict.fromkeys(range(2018, 2023), 4000)
    assert (result[CITY][2022].reported, result[CITY][2022].total) == (10, 10)


def test_rollup_has_no_depth_limit() -> None:
    depth = 5000  # far beyond Python's recursion limit
    children = {f"u{i}": [f"u{i + 1}"] for i in range(depth)}
    own = {f"u{depth}": {2020: yv(2020, 3)}}
    result = rollup(measure=Measure.STOCK, children=children, own=own, root="u0")
    assert result["u0"][2020].value == 3 and len(result) == depth + 1
