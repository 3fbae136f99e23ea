"""Every status branch and figure rule of docs/ATTAINMENT.md that the worked examples leave out, via HTTP."""

from typing import Any

import httpx
import pytest

from tests.api.attainment_helpers import (
    API,
    CARE_ROOM,
    CITY,
    FUNDING,
    GROSS_ENROLMENT,
    HUANGDAO,
    NETWORK,
    OVERSIZED,
    PRESCHOOL,
    SHINAN,
    close,
    create_indicator,
    create_target,
    patch_target,
    pick,
    post_values,
    rate,
    row_of,
    rows_for,
    set_indicator,
    value,
)
from tests.conftest import Keys


@pytest.fixture(autouse=True)
async def _partial_aggregates_are_judged(client: httpx.AsyncClient, keys: Keys) -> None:
    """The rules here are about figures and statuses, shown with one district standing for the city: judge
    partial aggregates (min_completeness 0). Completeness itself is tested in test_completeness.py."""
    for code in (NETWORK, PRESCHOOL, GROSS_ENROLMENT, CARE_ROOM, OVERSIZED, FUNDING):
        await set_indicator(client, keys, code, min_completeness=0)


async def _network(client: httpx.AsyncClient, keys: Keys, *per_year: tuple[str, int]) -> None:
    """Values of 黄岛区 alone, out of 1000 schools, so the city's figure equals the district's."""
    await post_values(client, keys.huangdao, [rate(NETWORK, HUANGDAO, y, n, 1000) for y, n in per_year])


async def test_no_data_then_insufficient_data(client: httpx.AsyncClient, keys: Keys) -> None:
    row = await row_of(client, keys, NETWORK, date="2020-03-01")
    assert row["status"] == "no_data" and row["actual"] is None and row["complete"] is None
    assert row["projection"] is None and row["pace"] is None and row["attainment_ratio"] is None
    await _network(client, keys, ("2019", 900))
    row = await row_of(client, keys, NETWORK, date="2020-03-01")
    assert row["status"] == "insufficient_data" and close(row["actual"]["value"], 90.0)
    assert row["projection"] is None and row["pace"] is None
    assert close(row["attainment_ratio"], 90 / 98) and close(row["progress"], 0.0)


@pytest.mark.parametrize(("n2019", "status", "pace"), [
    (930, "at_risk", 0.75),  # 90 → 93: the line reaches 96; (96 − 90) / (98 − 90)
    (920, "off_track", 0.5),  # 90 → 92: 94
    (950, "on_track", 1.25),  # 90 → 95: 100
])
async def test_pace_decides_before_the_deadline(
    client: httpx.AsyncClient, keys: Keys, n2019: int, status: str, pace: float
) -> None:
    await _network(client, keys, ("2018", 900), ("2019", n2019))
    row = await row_of(client, keys, NETWORK, date="2020-03-01")
    assert row["status"] == status and close(row["pace"], pace)
    assert close(row["progress"], (n2019 / 10 - 90) / 8)


async def test_achieved_before_the_deadline(client: httpx.AsyncClient, keys: Keys) -> None:
    await _network(client, keys, ("2018", 900), ("2019", 985))
    row = await row_of(client, keys, NETWORK, date="2020-03-01")
    assert row["status"] == "achieved" and row["met"] is True and row["deadline_passed"] is False
    assert close(row["attainment_ratio"], 98.5 / 98)


async def test_after_the_deadline_only_the_target_year_counts(client: httpx.AsyncClient, keys: Keys) -> None:
    await _network(client, keys, ("2018", 900), ("2019", 990))  # achieved early, but nothing for 2020
    row = await row_of(client, keys, NETWORK, date="2021-01-01")
    assert row["status"] == "no_data" and row["deadline_passed"] is True and row["actual"] is None
    await _network(client, keys, ("2020", 970), ("2021", 999))  # a later year does not rescue 2020
    row = await row_of(client, keys, NETWORK, date="2022-06-01")
    assert row["status"] == "missed" and row["actual"]["year"] == 2020 and close(row["actual"]["value"], 97.0)
    assert (await row_of(client, keys, NETWORK, date="2020-12-31"))["deadline_passed"] is False


async def test_percent_projection_is_clamped_to_100(client: httpx.AsyncClient, keys: Keys) -> None:
    await _network(client, keys, ("2018", 500), ("2019", 970))  # the line gives 144 in 2020
    row = await row_of(client, keys, NETWORK, date="2020-03-01")
    assert row["projection"] == 100.0
    assert close(row["pace"], (100 - 50) / (98 - 50)) and row["status"] == "on_track"


async def test_gross_rate_above_100_is_not_capped(client: httpx.AsyncClient, keys: Keys) -> None:
    # 高中阶段毛入学率 may exceed 100%: its bound is 200, so neither the value nor the projection stops at 100.
    await post_values(client, keys.admin, [value(GROSS_ENROLMENT, CITY, "2018", 50),
                                           value(GROSS_ENROLMENT, CITY, "2019", 150)])
    row = await row_of(client, keys, GROSS_ENROLMENT, date="2020-03-01")
    assert row["status"] == "achieved" and row["projection"] == 200.0  # 250, clamped to the bound 200
    await post_values(client, keys.admin, [value(GROSS_ENROLMENT, CITY, "2020", 105)])
    row = await row_of(client, keys, GROSS_ENROLMENT, date="2021-03-01")
    assert row["status"] == "achieved" and row["actual"]["value"] == 105
    assert close(row["attainment_ratio"], 105 / 99) and row["attainment_ratio"] > 1


async def _preschool(client: httpx.AsyncClient, keys: Keys, **per_year: int) -> None:
    """黄岛区's gross preschool enrolment, children enrolled per 1000 resident children (can pass 1000)."""
    await post_values(client, keys.huangdao, [rate(PRESCHOOL, HUANGDAO, y[1:], n, 1000) for y, n in per_year.items()])


def _years(row: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {y["year"]: y for y in row["years"]}


async def test_every_year_on_track_with_a_rate_above_100(client: httpx.AsyncClient, keys: Keys) -> None:
    await _preschool(client, keys, y2019=1000, y2020=1050)
    rows = await rows_for(client, keys, PRESCHOOL, date="2021-02-01")
    city = pick(rows, CITY)
    assert city["status"] == "on_track" and city["year_from"] is None
    years = _years(city)
    assert sorted(years) == [2019, 2020, 2021, 2022]  # year_from defaults to 2019
    assert years[2020]["met"] is True and close(years[2020]["value"], 105.0)
    assert years[2021]["pending"] and years[2022]["pending"]
    assert close(city["attainment_ratio"], 100 / 99) and close(city["progress"], 0.5)
    assert pick(rows, HUANGDAO)["inherited"] is True and pick(rows, HUANGDAO)["status"] == "on_track"
    assert pick(rows, SHINAN)["status"] == "no_data"


async def test_every_year_missing_failed_and_achieved(client: httpx.AsyncClient, keys: Keys) -> None:
    await _preschool(client, keys, y2020=995)
    row = await row_of(client, keys, PRESCHOOL, date="2021-02-01")
    assert row["status"] == "no_data" and _years(row)[2019]["missing"] is True
    await _preschool(client, keys, y2019=1000, y2021=1000, y2022=1010)
    row = await row_of(client, keys, PRESCHOOL, date="2023-01-01")
    assert row["status"] == "achieved" and row["deadline_passed"] is True and close(row["progress"], 1.0)
    assert close(row["attainment_ratio"], 99.5 / 99)
    await _preschool(client, keys, y2021=980)
    row = await row_of(client, keys, PRESCHOOL, date="2023-01-01")
    assert row["status"] == "missed" and _years(row)[2021]["met"] is False
    assert close(row["attainment_ratio"], 98 / 99) and close(row["progress"], 0.75)


async def test_every_year_an_unfinished_year_counts_once_met(client: httpx.AsyncClient, keys: Keys) -> None:
    full = [value(FUNDING, CITY, str(y), 31_000_000) for y in (2018, 2019, 2020)]
    await post_values(client, keys.admin, [*full, value(FUNDING, CITY, "2021Q1", 10_000_000)])
    row = await row_of(client, keys, FUNDING, date="2021-05-01")
    assert row["status"] == "on_track"
    assert _years(row)[2021] == {"year": 2021, "value": 10_000_000, "met": None, "missing": False, "pending": True,
                                 "incomplete": True}
    # The flow accumulates: Q2 tips 2021 over the line, but only once Q2 has ended.
    await post_values(client, keys.admin, [value(FUNDING, CITY, "2021Q2", 25_000_000)])
    assert _years(await row_of(client, keys, FUNDING, date="2021-05-01"))[2021]["value"] == 10_000_000
    row = await row_of(client, keys, FUNDING, date="2021-07-01")
    # Still only half the year's periods, but a flow already over the line counts as met.
    assert _years(row)[2021] == {"year": 2021, "value": 35_000_000, "met": True, "missing": False, "pending": False,
                                 "incomplete": True}
    assert row["status"] == "on_track" and close(row["progress"], 4 / 5)


async def test_a_day_inside_a_year_sees_only_periods_ended_by_then(client: httpx.AsyncClient, keys: Keys) -> None:
    await post_values(client, keys.huangdao, [value(OVERSIZED, HUANGDAO, p, n)
                                              for p, n in (("2019", 30), ("2020S1", 10), ("2020S2", 2))])
    before = await row_of(client, keys, OVERSIZED, date="2020-06-29")
    assert before["actual"]["period"] == "2019" and before["actual"]["value"] == 30
    mid = await row_of(client, keys, OVERSIZED, date="2020-07-15")
    assert mid["actual"]["period"] == "2020S1" and mid["actual"]["value"] == 10
    after = await row_of(client, keys, OVERSIZED, date="2021-01-01")
    assert after["actual"]["period"] == "2020S2" and after["actual"]["value"] == 2 and after["status"] == "missed"


async def test_a_stock_takes_the_latest_ending_period_and_ties_go_to_the_coarsest(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    # 2018Sep is the school year Sep 2018 – Aug 2019: it belongs to 2019 and ends after 2019S1.
    await post_values(client, keys.huangdao, [value(OVERSIZED, HUANGDAO, p, n) for p, n in
                                              (("2019S1", 50), ("2018Sep", 40), ("2020S2", 3), ("2020", 5))])
    assert (await row_of(client, keys, OVERSIZED, date="2019-07-01"))["actual"]["period"] == "2019S1"
    row = await row_of(client, keys, OVERSIZED, date="2019-09-01")
    assert row["actual"] == {"value": 40, "year": 2019, "period": "2018Sep"}
    row = await row_of(client, keys, OVERSIZED, date="2021-01-01")
    assert row["actual"] == {"value": 5, "year": 2020, "period": "2020"} and row["status"] == "missed"


async def test_open_ended_target_is_judged_on_its_current_year(client: httpx.AsyncClient, keys: Keys) -> None:
    await post_values(client, keys.huangdao, [rate(CARE_ROOM, HUANGDAO, y, 10, 10) for y in ("2019", "2020")])
    rows = await rows_for(client, keys, CARE_ROOM, date="2021-03-01")
    city = pick(rows, CITY)
    assert city["kind"] == "reach" and city["target_year"] is None and city["deadline_passed"] is False
    assert city["status"] == "on_track" and sorted(_years(city)) == [2019, 2020]
    assert city["actual"]["year"] == 2020 and close(city["progress"], 1.0) and city["projection"] is None
    assert pick(rows, HUANGDAO)["inherited"] is True and pick(rows, HUANGDAO)["status"] == "on_track"
    far = await row_of(client, keys, CARE_ROOM, date="2030-06-01")  # never past a deadline, never "achieved"
    assert far["status"] == "no_data" and far["deadline_passed"] is False and max(_years(far)) == 2029
    await post_values(client, keys.huangdao, [rate(CARE_ROOM, HUANGDAO, "2021", 9, 10)])
    lapsed = await row_of(client, keys, CARE_ROOM, date="2022-03-01")
    assert lapsed["status"] == "off_track" and _years(lapsed)[2020]["met"] is True  # never "missed"


async def _city_stock(client: httpx.AsyncClient, keys: Keys, code: str, **per_year: float) -> None:
    await post_values(client, keys.admin, [value(code, CITY, y[1:], v) for y, v in per_year.items()])


async def test_lower_is_better_with_a_positive_threshold(client: httpx.AsyncClient, keys: Keys) -> None:
    code = "t23-pupils-per-class-excess"
    await create_indicator(client, keys, code=code, unit="pupil", direction="down")
    await create_target(client, keys, code, op="<=", value=10, year=2020)
    await _city_stock(client, keys, code, y2018=20, y2019=16)
    row = await row_of(client, keys, code, date="2020-03-01")
    assert close(row["projection"], 12.0) and close(row["pace"], 0.8) and row["status"] == "at_risk"
    assert close(row["progress"], 0.4) and close(row["attainment_ratio"], 10 / 16)  # T / A
    await _city_stock(client, keys, code, y2020=8)
    row = await row_of(client, keys, code, date="2021-01-01")
    assert row["status"] == "achieved" and close(row["attainment_ratio"], 10 / 8)
    await _city_stock(client, keys, code, y2020=0)
    assert close((await row_of(client, keys, code, date="2021-01-01"))["attainment_ratio"], 1.0)  # A = 0
    await _city_stock(client, keys, code, y2020=12.5)
    row = await row_of(client, keys, code, date="2021-01-01")
    assert row["status"] == "missed" and close(row["attainment_ratio"], 0.8)


async def test_declared_baseline_then_derived(client: httpx.AsyncClient, keys: Keys) -> None:
    code = "t31-test-groups"
    await create_indicator(client, keys, code=code, task=31, unit="group")
    target = await create_target(client, keys, code, value=100, year=2020, baseline={"value": 40, "year": 2016})
    await _city_stock(client, keys, code, y2018=60, y2019=70)
    row = await row_of(client, keys, code, date="2020-03-01")
    assert row["baseline"] == {"value": 40, "year": 2016}
    assert close(row["projection"], 80.0)  # the declared baseline is not a point of the line
    assert close(row["pace"], 40 / 60) and row["status"] == "at_risk" and close(row["progress"], 0.5)
    await patch_target(client, keys, target["id"], baseline=None)
    row = await row_of(client, keys, code, date="2020-03-01")
    assert row["baseline"] == {"value": 60, "year": 2018}  # the earliest visible value
    assert close(row["pace"], 0.5) and row["status"] == "off_track" and close(row["progress"], 0.25)


async def test_baseline_already_meeting_the_threshold(client: httpx.AsyncClient, keys: Keys) -> None:
    code = "t31-test-equal"
    await create_indicator(client, keys, code=code, task=31, unit="group")
    target = await create_target(client, keys, code, value=50, year=2020, baseline={"value": 50, "year": 2017})
    await _city_stock(client, keys, code, y2018=45, y2019=48)
    row = await row_of(client, keys, code, date="2020-03-01")  # T = B and A misses it: P = Q = 0
    assert row["progress"] == 0 and row["pace"] == 0 and row["status"] == "off_track"
    await _city_stock(client, keys, code, y2019=52)
    row = await row_of(client, keys, code, date="2020-03-01")
    assert row["progress"] == 1 and row["pace"] == 1 and row["status"] == "achieved"
    await patch_target(client, keys, target["id"], baseline=None)
    await _city_stock(client, keys, code, y2018=50, y2019=49)  # derived B = T = 50
    row = await row_of(client, keys, code, date="2020-03-01")
    assert row["baseline"]["value"] == 50 and row["progress"] == 0 and row["pace"] == 0
    assert row["status"] == "off_track"


async def test_schools_roll_up_to_district_and_city(client: httpx.AsyncClient, keys: Keys) -> None:
    for code, name in (("370211901", "测试一中"), ("370211902", "测试二中")):
        r = await client.post(f"{API}/units", json={"code": code, "name": name, "parent": HUANGDAO, "level": "school"},
                              headers=keys.auth(keys.admin))
        assert r.status_code == 201, r.text
    await post_values(client, keys.huangdao, [rate(NETWORK, "370211901", "2019", 450, 500),
                                              rate(NETWORK, "测试二中", "2019", 400, 500)])
    rows = await rows_for(client, keys, NETWORK, date="2020-03-01")
    district, city = pick(rows, HUANGDAO), pick(rows, CITY)
    # Schools are not reporters of a district-level indicator: the district expects nothing below it.
    assert close(district["actual"]["value"], 85.0) and district["complete"] is None
    assert close(city["actual"]["value"], 85.0) and city["complete"] == {"reported": 1, "expected": 10}
    assert not [r for r in rows if r["unit_code"].startswith("3702119")]  # schools get no rows of their own
    await post_values(client, keys.shinan, [rate(NETWORK, SHINAN, "2019", 90, 100)])
    city = await row_of(client, keys, NETWORK, date="2020-03-01")
    assert close(city["actual"]["value"], 940 / 1100 * 100)  # Σ numerators / Σ denominators, not (85 + 90) / 2
    await post_values(client, keys.huangdao, [rate(NETWORK, HUANGDAO, "2019", 950, 1000)])  # its own value wins
    rows = await rows_for(client, keys, NETWORK, date="2020-03-01")
    assert close(pick(rows, HUANGDAO)["actual"]["value"], 95.0)
    assert close(pick(rows, CITY)["actual"]["value"], 1040 / 1100 * 100)


async def test_a_unit_added_later_counts_in_completeness(client: httpx.AsyncClient, keys: Keys) -> None:
    """complete.expected counts the reporting children now (a new district is a reporter at once), reported or not."""
    async def add(code: str, parent: str, level: str) -> None:
        body = {"code": code, "name": f"新单位{code}", "parent": parent, "level": level}
        r = await client.post(f"{API}/units", json=body, headers=keys.auth(keys.admin))
        assert r.status_code == 201, r.text

    await add("370211901", HUANGDAO, "school")
    await post_values(client, keys.huangdao, [rate(NETWORK, "370211901", "2019", 450, 500)])
    await add("370211902", HUANGDAO, "school")
    await add("370299", CITY, "district")
    rows = await rows_for(client, keys, NETWORK, date="2020-03-01")
    assert pick(rows, HUANGDAO)["complete"] is None  # schools are not expected to report
    assert pick(rows, CITY)["complete"] == {"reported": 1, "expected": 11}
    assert pick(rows, "370299")["inherited"] is True and pick(rows, "370299")["status"] == "no_data"


async def test_changing_an_indicators_measure_rejudges_its_values(client: httpx.AsyncClient, keys: Keys) -> None:
    code = "t31-test-measure"
    await create_indicator(client, keys, code=code, task=31, unit="group", frequency="quarter")
    await create_target(client, keys, code, value=10, year=2020)
    await post_values(client, keys.admin, [value(code, CITY, f"2020Q{q}", n) for q, n in ((1, 5), (2, 7), (3, 1),
                                                                                          (4, 2))])
    row = await row_of(client, keys, code, date="2021-03-01")
    assert row["actual"]["value"] == 2 and row["status"] == "missed"  # a stock: the latest period
    r = await client.patch(f"{API}/indicators/{code}", json={"measure": "flow"}, headers=keys.auth(keys.admin))
    assert r.status_code == 200, r.text
    row = await row_of(client, keys, code, date="2021-03-01")
    assert row["actual"]["value"] == 15 and row["status"] == "achieved"  # a flow: the year's sum
