"""What the leaders' page reads through the API too: yearly values per unit, and one unit's own summary."""

import httpx

from tests.api.attainment_helpers import API, CITY, HUANGDAO, NETWORK, SHINAN, close, load_network_example
from tests.conftest import Keys


async def test_yearly_values_of_worked_example_1(client: httpx.AsyncClient, keys: Keys) -> None:
    await load_network_example(client, keys)
    r = await client.get(f"{API}/indicators/{NETWORK}/yearly", params={"date": "2020-03-01"},
                         headers=keys.auth(keys.bureau))
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["indicator"] == NETWORK and doc["date"] == "2020-03-01" and doc["as_of"] == "now"
    units = {u["unit_code"]: u for u in doc["units"]}
    assert list(units)[0] == CITY and len(units) == 11  # the city, then its ten districts
    city = {y["year"]: y for y in units[CITY]["years"]}
    assert close(city[2018]["value"], 980 / 1100 * 100) and round(city[2018]["value"], 2) == 89.09
    assert close(city[2019]["value"], 1040 / 1100 * 100) and round(city[2019]["value"], 2) == 94.55
    assert city[2019]["own"] is False and city[2019]["complete"] == {"reported": 2, "expected": 10}
    assert city[2019]["incomplete"] is False  # 2 of 10 meets the example's min_completeness 0.2
    x = {y["year"]: y for y in units[HUANGDAO]["years"]}
    assert x[2018] == {"year": 2018, "value": 90.0, "own": True, "incomplete": False, "complete": None}
    assert [y["value"] for y in units[SHINAN]["years"]] == [80.0, 90.0]
    assert units["370283"]["years"] == []  # 平度市 is silent


async def test_yearly_values_as_of_before_the_values_were_sent(client: httpx.AsyncClient, keys: Keys) -> None:
    await load_network_example(client, keys)
    r = await client.get(f"{API}/indicators/{NETWORK}/yearly", params={"date": "2020-03-01", "as_of": "2000-01-01"},
                         headers=keys.auth(keys.bureau))
    assert r.status_code == 200 and all(u["years"] == [] for u in r.json()["units"])
    r = await client.get(f"{API}/indicators/t99-none/yearly", headers=keys.auth(keys.bureau))
    assert r.status_code == 404
    assert (await client.get(f"{API}/indicators/{NETWORK}/yearly", headers=keys.auth(keys.scraper))).status_code == 403


async def test_a_units_summary_counts_its_own_rows(client: httpx.AsyncClient, keys: Keys) -> None:
    await load_network_example(client, keys, years=(2018, 2019, 2020))
    h = keys.auth(keys.bureau)
    # Example 1 after the deadline: X (黄岛区) achieved, Z (市南区) missed, as inherited rows.
    x = (await client.get(f"{API}/attainment/summary", params={"date": "2021-03-01", "unit": "黄岛区"},
                          headers=h)).json()
    z = (await client.get(f"{API}/attainment/summary", params={"date": "2021-03-01", "unit": SHINAN},
                          headers=h)).json()
    rows_x = (await client.get(f"{API}/attainment", params={"date": "2021-03-01", "unit": HUANGDAO},
                               headers=h)).json()["rows"]
    assert x["total"]["total"] == len(rows_x) > 0
    assert sum(x["total"]["counts"].values()) == x["total"]["total"]
    net_action = next(a for a in x["by_action"] if a["key"] == "2")
    assert net_action["counts"]["achieved"] >= 1
    assert z["by_action"][1]["counts"]["missed"] >= 1 and z["by_action"][1]["key"] == "2"
    city = (await client.get(f"{API}/attainment/summary", params={"date": "2021-03-01"}, headers=h)).json()
    assert city["total"]["total"] == 26  # the city's own targets only; inherited rows count for their unit
    bad = await client.get(f"{API}/attainment/summary", params={"unit": "370282"}, headers=h)
    assert bad.status_code == 422 and "370215" in bad.json()["detail"]  # retired 即墨市 names its successor
