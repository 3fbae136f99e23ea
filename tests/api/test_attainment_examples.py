"""The worked examples of docs/ATTAINMENT.md, with their exact numbers, through HTTP."""

import httpx

from tests.api.attainment_helpers import (
    CITY,
    DISTRICTS,
    FUNDING,
    HUANGDAO,
    NETWORK,
    OVERSIZED,
    PRACTICE_BASE,
    SHINAN,
    TOL,
    close,
    load_network_example,
    pick,
    post_values,
    row_of,
    rows_for,
    value,
)
from tests.conftest import Keys

# Example 1 at full precision: the city pools 980/1100 (2018) and 1040/1100 (2019).
B1 = 980 / 1100 * 100
A1 = 1040 / 1100 * 100
T1 = 98.0


async def test_example_1_rate_reach_before_the_deadline(client: httpx.AsyncClient, keys: Keys) -> None:
    await load_network_example(client, keys)
    row = await row_of(client, keys, NETWORK, date="2020-03-01")
    assert row["status"] == "on_track" and row["kind"] == "reach" and row["op"] == ">="
    assert row["inherited"] is False and row["parent_unit"] is None and row["deadline_passed"] is False
    assert row["target"] == 98 and row["target_year"] == 2020
    assert row["actual"]["year"] == 2019 and row["actual"]["period"] == "2019"
    assert close(row["actual"]["value"], 94.55, TOL * 100) and close(row["actual"]["value"], A1)
    assert row["baseline"] == {"value": row["baseline"]["value"], "year": 2018}
    assert close(row["baseline"]["value"], 89.09, TOL * 100) and close(row["baseline"]["value"], B1)
    # The line through 89.09 (2018) and 94.55 (2019) reaches 100.00 in 2020 exactly (1100/1100).
    assert close(row["projection"], 100.0, 1e-9)
    assert close(row["pace"], (100 - B1) / (T1 - B1)) and round(row["pace"], 2) == 1.22
    assert close(row["progress"], (A1 - B1) / (T1 - B1)) and round(row["progress"], 2) == 0.61
    assert close(row["attainment_ratio"], 0.9647, TOL) and close(row["attainment_ratio"], A1 / T1)
    assert row["met"] is False
    assert row["complete"] == {"reported": 2, "expected": 10}


async def test_example_1_districts_are_judged_as_inherited_rows(client: httpx.AsyncClient, keys: Keys) -> None:
    await load_network_example(client, keys)
    rows = await rows_for(client, keys, NETWORK, date="2020-03-01")
    inherited = [r for r in rows if r["inherited"]]
    assert sorted(r["unit_code"] for r in inherited) == sorted(DISTRICTS)
    assert all(r["parent_unit"] == CITY and r["target"] == 98 for r in inherited)
    x, z = pick(rows, HUANGDAO), pick(rows, SHINAN)
    assert close(x["actual"]["value"], 95.0) and close(x["baseline"]["value"], 90.0)
    assert close(z["actual"]["value"], 90.0) and close(z["baseline"]["value"], 80.0)
    assert x["status"] == "on_track" and close(x["projection"], 100.0)  # 90, 95 → 100
    assert z["status"] == "on_track" and close(z["projection"], 100.0)  # 80, 90 → 110, clamped to 100
    silent = [r for r in inherited if r["unit_code"] not in (HUANGDAO, SHINAN)]
    assert len(silent) == 8 and {r["status"] for r in silent} == {"no_data"}
    assert all(r["actual"] is None for r in silent)


async def test_example_1_after_the_deadline(client: httpx.AsyncClient, keys: Keys) -> None:
    await load_network_example(client, keys, years=(2018, 2019, 2020))
    rows = await rows_for(client, keys, NETWORK, date="2021-03-01")
    city = pick(rows, CITY, inherited=False)
    assert city["status"] == "achieved" and city["met"] is True and city["deadline_passed"] is True
    assert city["actual"]["year"] == 2020 and close(city["actual"]["value"], 1085 / 1100 * 100)
    assert round(city["actual"]["value"], 2) == 98.64
    assert city["complete"] == {"reported": 2, "expected": 10}
    x, z = pick(rows, HUANGDAO), pick(rows, SHINAN)
    assert x["inherited"] is True and x["status"] == "achieved" and close(x["actual"]["value"], 99.0)
    assert z["inherited"] is True and z["status"] == "missed" and close(z["actual"]["value"], 95.0)
    assert z["met"] is False and close(z["attainment_ratio"], 95 / 98)
    others = [r for r in rows if r["inherited"] and r["unit_code"] not in (HUANGDAO, SHINAN)]
    assert {r["status"] for r in others} == {"no_data"}  # no value for the target year


async def test_example_2_lower_is_better(client: httpx.AsyncClient, keys: Keys) -> None:
    # City-reported (the example says so): the city's own values are complete whatever the districts do.
    await post_values(client, keys.admin, [value(OVERSIZED, CITY, "2017", 120), value(OVERSIZED, CITY, "2019", 30)])
    row = await row_of(client, keys, OVERSIZED, date="2020-01-15")
    assert row["op"] == "<=" and row["target"] == 0 and row["target_year"] == 2020
    assert row["actual"]["value"] == 30 and row["actual"]["year"] == 2019
    assert row["baseline"] == {"value": 120, "year": 2017}
    assert row["projection"] == 0  # the line gives −15; a count is clamped at 0
    assert close(row["pace"], 1.0)
    assert row["status"] == "on_track"
    assert close(row["progress"], 0.75)
    assert close(row["attainment_ratio"], 0.75)  # '<=' with T = 0: the progress
    assert row["complete"] is None  # an own value
    assert not any(r["inherited"] for r in await rows_for(client, keys, OVERSIZED, date="2020-01-15"))

    await post_values(client, keys.admin, [value(OVERSIZED, CITY, "2020", 4)])
    after = await row_of(client, keys, OVERSIZED, date="2021-02-01")
    assert after["status"] == "missed" and after["met"] is False and after["deadline_passed"] is True
    assert after["actual"]["value"] == 4 and after["actual"]["year"] == 2020
    assert close(after["progress"], (4 - 120) / (0 - 120))


async def test_example_2_the_citys_own_value_wins(client: httpx.AsyncClient, keys: Keys) -> None:
    await post_values(client, keys.huangdao, [value(OVERSIZED, HUANGDAO, "2017", 500),
                                              value(OVERSIZED, HUANGDAO, "2019", 400)])
    await post_values(client, keys.admin, [value(OVERSIZED, CITY, "2017", 120), value(OVERSIZED, CITY, "2019", 30)])
    row = await row_of(client, keys, OVERSIZED, date="2020-01-15")
    assert row["actual"]["value"] == 30 and row["baseline"]["value"] == 120
    assert row["projection"] == 0 and close(row["pace"], 1.0) and close(row["progress"], 0.75)
    assert row["status"] == "on_track"


async def test_example_3_every_year_flow_reported_quarterly(client: httpx.AsyncClient, keys: Keys) -> None:
    quarters = [value(FUNDING, CITY, f"2020Q{q}", 7_000_000) for q in (1, 2, 3, 4)]
    await post_values(client, keys.admin, [value(FUNDING, CITY, "2018", 32_000_000),
                                           value(FUNDING, CITY, "2019", 30_500_000), *quarters])
    rows = await rows_for(client, keys, FUNDING, date="2021-02-01")
    assert len(rows) == 1  # a city-level amount of money is not split into district rows
    row = rows[0]
    assert row["kind"] == "every_year" and row["year_from"] == 2018 and row["target_year"] == 2022
    assert row["status"] == "missed"
    years = {y["year"]: y for y in row["years"]}
    assert sorted(years) == [2018, 2019, 2020, 2021, 2022]
    assert years[2018] == {"year": 2018, "value": 32_000_000, "met": True, "missing": False, "pending": False,
                           "incomplete": False}
    assert years[2019] == {"year": 2019, "value": 30_500_000, "met": True, "missing": False, "pending": False,
                           "incomplete": False}
    assert years[2020] == {"year": 2020, "value": 28_000_000, "met": False, "missing": False, "pending": False,
                           "incomplete": False}
    assert years[2021]["pending"] is True and years[2021]["met"] is None and years[2021]["missing"] is False
    assert years[2022]["pending"] is True
    assert close(row["attainment_ratio"], 28 / 30)  # the worst year
    assert close(row["progress"], 2 / 5)  # years met / years in the window
    assert row["projection"] is None and row["pace"] is None
    assert row["actual"]["value"] == 28_000_000 and row["actual"]["year"] == 2020


async def test_example_4_each_unit(client: httpx.AsyncClient, keys: Keys) -> None:
    built, lagging, silent = DISTRICTS[:7], DISTRICTS[7:9], DISTRICTS[9]
    await post_values(client, keys.admin, [
        *(value(PRACTICE_BASE, d, "2020", 1) for d in built),
        *(value(PRACTICE_BASE, d, y, 0) for d in lagging for y in ("2019", "2020")),
    ])
    rows = await rows_for(client, keys, PRACTICE_BASE, date="2021-06-30")
    parent = pick(rows, CITY)
    assert parent["kind"] == "each_unit" and parent["parent_unit"] is None and parent["target_year"] == 2022
    assert parent["status"] == "off_track"
    assert parent["units_met"] == 7 and parent["units_total"] == 10
    assert close(parent["progress"], 0.7) and close(parent["attainment_ratio"], 0.7)
    assert parent["complete"] == {"reported": 9, "expected": 10}
    kids = {r["unit_code"]: r for r in rows if r["parent_unit"] == CITY}
    assert sorted(kids) == sorted(DISTRICTS)
    assert all(r["inherited"] is False and r["target"] == 1 for r in kids.values())
    assert {kids[d]["status"] for d in built} == {"achieved"}
    for d in lagging:
        assert kids[d]["status"] == "off_track" and kids[d]["pace"] == 0 and kids[d]["progress"] == 0
    assert kids[silent]["status"] == "no_data" and kids[silent]["actual"] is None


async def test_example_4_after_the_deadline_is_missed(client: httpx.AsyncClient, keys: Keys) -> None:
    await post_values(client, keys.admin, [value(PRACTICE_BASE, d, "2022", 1) for d in DISTRICTS[:9]])
    parent = await row_of(client, keys, PRACTICE_BASE, date="2023-01-01")
    assert parent["status"] == "missed" and parent["units_met"] == 9 and parent["deadline_passed"] is True
    await post_values(client, keys.admin, [value(PRACTICE_BASE, DISTRICTS[9], "2022", 2)])
    parent = await row_of(client, keys, PRACTICE_BASE, date="2023-01-01")
    assert parent["status"] == "achieved" and parent["units_met"] == 10 and parent["met"] is True
