from datetime import date
from fractions import Fraction

import pytest

from app.domain.attainment import Bounds, Kind, Status, TargetSpec
from app.domain.periods import parse_period
from app.domain.report import IndicatorInfo, Row, TargetInfo, build_rows
from app.domain.yearly import Measure, Observation, YearValue, own_yearly, rollup

CITY = "370200"
DISTRICTS = [f"3702{n:02d}" for n in range(1, 11)]
X, Z = DISTRICTS[1], DISTRICTS[6]
TREE = {CITY: DISTRICTS}

NETWORK = IndicatorInfo("t03-network", 3, "percent", Measure.RATE, "up", "district", Bounds(0.0, 100.0))
BASES = IndicatorInfo("t04-bases", 4, "base", Measure.STOCK, "up", "district", Bounds(0.0, None))
CITY_PCT = IndicatorInfo("t05-city", 5, "percent", Measure.RATE, "up", "city", Bounds(0.0, 100.0))
INDICATORS = {i.code: i for i in (NETWORK, BASES, CITY_PCT)}


def yv(year: int, value: float) -> YearValue:
    return YearValue(year, value, None, None, str(year), date(year, 12, 31), True)


def network_values(with_2020: bool) -> dict[tuple[str, str], dict[int, YearValue]]:
    reports = {
        X: [("2018", 900, 1000), ("2019", 950, 1000), ("2020", 990, 1000)],
        Z: [("2018", 80, 100), ("2019", 90, 100), ("2020", 95, 100)],
    }
    own = {
        unit: own_yearly(
            measure=Measure.RATE,
            observations=[
                Observation(parse_period(p), n / d * 100, n, d) for p, n, d in rows if with_2020 or p != "2020"
            ],
        )
        for unit, rows in reports.items()
    }
    effective = rollup(measure=Measure.RATE, children=TREE, own=own, root=CITY)
    return {(NETWORK.code, unit): series for unit, series in effective.items()}


def statuses(rows: list[Row]) -> dict[str, Status]:
    return {row.unit_code: row.judgement.status for row in rows}


NETWORK_TARGET = TargetInfo(1, NETWORK.code, CITY, TargetSpec(Kind.REACH, ">=", 98, 2020))


def test_example_1_city_on_track_with_inherited_district_rows() -> None:
    rows = build_rows(
        indicators=INDICATORS,
        targets=[NETWORK_TARGET],
        children=TREE,
        values=network_values(False),
        on=date(2020, 3, 1),
    )
    assert (rows[0].unit_code, rows[0].inherited, rows[0].parent_unit) == (CITY, False, None)
    j = rows[0].judgement
    b, a, t = Fraction(980, 11), Fraction(1040, 11), Fraction(98)
    assert (j.status, j.met, j.deadline_passed) == (Status.ON_TRACK, False, False)
    assert (j.actual_year, j.actual_period, j.baseline_year) == (2019, "2019", 2018)
    assert j.actual == pytest.approx(94.5455, abs=5e-5)
    assert j.baseline == pytest.approx(89.0909, abs=5e-5)
    assert j.projection == pytest.approx(100.00, abs=5e-5)
    assert j.pace == pytest.approx(1.2245, abs=5e-5)
    assert j.pace == pytest.approx(float((100 - b) / (t - b)), rel=1e-9)
    assert j.progress == pytest.approx(0.6122, abs=5e-5)
    assert j.progress == pytest.approx(float((a - b) / (t - b)), rel=1e-9)
    assert j.attainment_ratio == pytest.approx(0.9647, abs=5e-5)
    assert j.attainment_ratio == pytest.approx(float(a / t), rel=1e-9)
    assert (j.reported, j.total) == (2, 10)
    assert j.years == () and j.units_met is None

    assert [r.unit_code for r in rows[1:]] == DISTRICTS
    assert all(r.inherited and r.parent_unit == CITY for r in rows[1:])
    # X: 90 → 95, projection 100 (clamped), Q = 10 / 8; Z: 80 → 90, projection 100, Q = 20 / 18.
    assert statuses(rows)[X] is Status.ON_TRACK and statuses(rows)[Z] is Status.ON_TRACK
    assert rows[1 + DISTRICTS.index(Z)].judgement.attainment_ratio == pytest.approx(90 / 98)


def test_example_1_after_2020_city_and_x_achieved_z_missed() -> None:
    values = network_values(True)
    rows = build_rows(
        indicators=INDICATORS, targets=[NETWORK_TARGET], children=TREE, values=values, on=date(2021, 3, 1)
    )
    city = rows[0].judgement
    assert city.actual == pytest.approx(98.6364, abs=5e-5)
    assert city.actual == pytest.approx(1085 / 1100 * 100, rel=1e-12)
    got = statuses(rows)
    assert (got[CITY], got[X], got[Z]) == (Status.ACHIEVED, Status.ACHIEVED, Status.MISSED)
    silent = [code for code in DISTRICTS if code not in (X, Z)]
    assert {got[code] for code in silent} == {Status.NO_DATA}
    assert len(rows) == 11


def test_example_4_each_unit_rows_parent_first() -> None:
    values: dict[tuple[str, str], dict[int, YearValue]] = {}
    for code in DISTRICTS[:7]:
        values[(BASES.code, code)] = {2020: yv(2020, 1)}
    for code in DISTRICTS[7:9]:
        values[(BASES.code, code)] = {2019: yv(2019, 0), 2020: yv(2020, 0)}
    target = TargetInfo(4, BASES.code, CITY, TargetSpec(Kind.EACH_UNIT, ">=", 1, 2022))
    rows = build_rows(indicators=INDICATORS, targets=[target], children=TREE, values=values, on=date(2021, 6, 30))

    parent, kids = rows[0], rows[1:]
    assert (parent.unit_code, parent.parent_unit, parent.inherited) == (CITY, None, False)
    j = parent.judgement
    assert (j.status, j.units_met, j.units_total, j.met, j.deadline_passed) == (Status.OFF_TRACK, 7, 10, False, False)
    assert j.attainment_ratio == pytest.approx(0.7) and j.progress == pytest.approx(0.7)
    assert (j.reported, j.total) == (9, 10)
    assert [r.unit_code for r in kids] == DISTRICTS
    assert all(r.parent_unit == CITY and not r.inherited and r.kind is Kind.EACH_UNIT for r in kids)
    assert [r.judgement.status for r in kids] == [Status.ACHIEVED] * 7 + [Status.OFF_TRACK] * 2 + [Status.NO_DATA]
    assert [r.judgement.pace for r in kids[7:9]] == [0.0, 0.0]  # flat at 0: no pace toward 1


def test_each_unit_children_keep_a_declared_baseline() -> None:
    values = {(BASES.code, code): {2020: yv(2020, 0), 2021: yv(2021, 0)} for code in DISTRICTS}
    spec = TargetSpec(Kind.EACH_UNIT, ">=", 1, 2022, baseline_value=0, baseline_year=2018)
    rows = build_rows(
        indicators=INDICATORS,
        targets=[TargetInfo(4, BASES.code, CITY, spec)],
        children=TREE,
        values=values,
        on=date(2021, 6, 30),
    )
    assert {(r.judgement.baseline, r.judgement.baseline_year) for r in rows[1:]} == {(0, 2018)}


def test_inherited_rows_derive_their_own_baseline() -> None:
    spec = TargetSpec(Kind.REACH, ">=", 98, 2020, baseline_value=50, baseline_year=2017)
    rows = build_rows(
        indicators=INDICATORS,
        targets=[TargetInfo(1, NETWORK.code, CITY, spec)],
        children=TREE,
        values=network_values(False),
        on=date(2020, 3, 1),
    )
    assert (rows[0].judgement.baseline, rows[0].judgement.baseline_year) == (50, 2017)
    x = rows[1 + DISTRICTS.index(X)].judgement
    assert (x.baseline, x.baseline_year) == (pytest.approx(90.0), 2018)


def test_every_year_target_is_inherited_too() -> None:
    values = {(NETWORK.code, CITY): {2019: yv(2019, 99.5)}, (NETWORK.code, X): {2019: yv(2019, 97.0)}}
    target = TargetInfo(2, NETWORK.code, CITY, TargetSpec(Kind.EVERY_YEAR, ">=", 99, 2020, 2019))
    rows = build_rows(indicators=INDICATORS, targets=[target], children=TREE, values=values, on=date(2020, 3, 1))
    got = statuses(rows)
    assert (got[CITY], got[X], got[Z]) == (Status.ON_TRACK, Status.MISSED, Status.NO_DATA)
    assert [r.inherited for r in rows] == [False] + [True] * 10


@pytest.mark.parametrize(
    "target",
    [
        TargetInfo(3, BASES.code, CITY, TargetSpec(Kind.REACH, ">=", 10, 2020)),  # a count, not a percent
        TargetInfo(3, CITY_PCT.code, CITY, TargetSpec(Kind.REACH, ">=", 10, 2020)),  # reported by the city
        TargetInfo(3, NETWORK.code, X, TargetSpec(Kind.REACH, ">=", 10, 2020)),  # a district's own target
    ],
)
def test_no_inherited_rows(target: TargetInfo) -> None:
    children = {**TREE, X: ["370203001", "370203002"]}
    rows = build_rows(indicators=INDICATORS, targets=[target], children=children, values={}, on=date(2020, 3, 1))
    assert [(r.unit_code, r.inherited, r.judgement.status) for r in rows] == [(target.unit_code, False, Status.NO_DATA)]


def test_rows_follow_target_id_and_copy_the_target() -> None:
    targets = [
        TargetInfo(9, BASES.code, CITY, TargetSpec(Kind.REACH, ">=", 10, 2022)),
        TargetInfo(2, CITY_PCT.code, CITY, TargetSpec(Kind.EVERY_YEAR, "<=", 5.5, 2021, 2020)),
        TargetInfo(5, BASES.code, CITY, TargetSpec(Kind.REACH, ">=", 10, None)),
    ]
    values = {(CITY_PCT.code, CITY): {2020: yv(2020, 5.0)}}
    rows = build_rows(indicators=INDICATORS, targets=targets, children=TREE, values=values, on=date(2021, 3, 1))
    assert [r.target_id for r in rows] == [2, 5, 9]
    first = rows[0]
    assert (
        first.indicator,
        first.kind,
        first.op,
        first.target_value,
        first.target_year,
        first.year_from,
    ) == (
        CITY_PCT.code,
        Kind.EVERY_YEAR,
        "<=",
        5.5,
        2021,
        2020,
    )
    assert first.judgement.status is Status.ON_TRACK
    assert rows[1].target_year is None and rows[1].judgement.deadline_passed is False
    assert rows[2].judgement.status is Status.NO_DATA


def test_each_unit_children_sorted_by_code_whatever_the_tree_order() -> None:
    target = TargetInfo(4, BASES.code, CITY, TargetSpec(Kind.EACH_UNIT, ">=", 1, 2022))
    children = {CITY: list(reversed(DISTRICTS))}
    rows = build_rows(indicators=INDICATORS, targets=[target], children=children, values={}, on=date(2021, 6, 30))
    assert [r.unit_code for r in rows] == [CITY, *DISTRICTS]
    assert rows[0].judgement.status is Status.NO_DATA and rows[0].judgement.units_met == 0
