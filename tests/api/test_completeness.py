"""GET /completeness (SPEC.md "Completeness"): on time, late, missing and not due per (indicator, reporter,
year); a reporter taken off the list is no longer expected; rates per unit, per indicator and for the city."""

import csv
import io
from typing import Any

import httpx

from tests.api.attainment_helpers import API, CITY, DISTRICTS, HUANGDAO, NETWORK, post_values, rate, set_indicator
from tests.conftest import Keys

SILENT = ("370283", "370285")
REPORTING = [d for d in DISTRICTS if d not in SILENT]


async def _get(client: httpx.AsyncClient, keys: Keys, **params: Any) -> dict[str, Any]:
    r = await client.get(f"{API}/completeness", params={"indicator": NETWORK, "year": 2025, **params},
                         headers=keys.auth(keys.bureau))
    assert r.status_code == 200, r.text
    doc: dict[str, Any] = r.json()
    return doc


def _states(doc: dict[str, Any]) -> dict[str, str]:
    return {i["unit_code"]: i["state"] for i in doc["items"]}


async def test_late_missing_on_time_and_not_due(client: httpx.AsyncClient, keys: Keys) -> None:
    # Stored today (2026): 2025 was due on 2026-01-31 (31 days after the year's end), so these came late.
    await post_values(client, keys.admin, [rate(NETWORK, d, "2025", 950, 1000) for d in REPORTING])
    doc = await _get(client, keys)
    states = _states(doc)
    assert {states[d] for d in REPORTING} == {"late"} and {states[d] for d in SILENT} == {"missing"}
    assert doc["items"][0]["due"] == "2026-01-31"
    city = doc["city"]
    assert (city["key"], city["expected"], city["reported"], city["on_time"], city["late"], city["missing"]) == (
        CITY, 10, 8, 0, 8, 2)
    assert city["reporting_rate"] == 0.8 and city["on_time_rate"] == 0.0
    units = {u["key"]: u for u in doc["units"]}
    assert units[HUANGDAO]["reporting_rate"] == 1.0 and units[SILENT[0]]["reporting_rate"] == 0.0
    assert [i["key"] for i in doc["indicators"]] == [NETWORK] and doc["indicators"][0]["reporting_rate"] == 0.8

    # With 400 days to report, the same values are on time and the silent districts are not yet due.
    await set_indicator(client, keys, NETWORK, due_days=400)
    doc = await _get(client, keys)
    states = _states(doc)
    assert {states[d] for d in REPORTING} == {"on_time"} and {states[d] for d in SILENT} == {"not_due"}
    assert (doc["city"]["expected"], doc["city"]["reporting_rate"], doc["city"]["on_time_rate"]) == (8, 1.0, 1.0)

    # Judged on a day before anything was stored: nothing was complete then, and nothing was due yet.
    await set_indicator(client, keys, NETWORK, due_days=31)
    early = await _get(client, keys, date="2026-01-15")
    assert set(_states(early).values()) == {"not_due"} and early["city"]["reporting_rate"] is None


async def test_a_reporter_removed_is_no_longer_expected(client: httpx.AsyncClient, keys: Keys) -> None:
    await post_values(client, keys.admin, [rate(NETWORK, d, "2025", 950, 1000) for d in REPORTING])
    r = await client.put(f"{API}/indicators/{NETWORK}/reporters", json={"units": REPORTING},
                         headers=keys.auth(keys.admin))
    assert r.status_code == 200, r.text
    doc = await _get(client, keys)
    assert sorted(_states(doc)) == sorted(REPORTING)
    assert (doc["city"]["expected"], doc["city"]["reporting_rate"]) == (8, 1.0)


async def test_a_unit_and_csv(client: httpx.AsyncClient, keys: Keys) -> None:
    await post_values(client, keys.admin, [rate(NETWORK, d, "2025", 950, 1000) for d in REPORTING])
    doc = await _get(client, keys, unit="黄岛区")
    assert _states(doc) == {HUANGDAO: "late"} and doc["city"]["key"] == HUANGDAO
    r = await client.get(f"{API}/completeness", params={"indicator": NETWORK, "year": 2025, "lang": "zh"},
                         headers={**keys.auth(keys.bureau), "Accept": "text/csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert table[0][:3] == ["指标代码", "单位代码", "单位"] and len(table) == 11
    assert {row[5] for row in table[1:]} == {"迟报", "未报"}
    bad = await client.get(f"{API}/completeness", params={"unit": "370282"}, headers=keys.auth(keys.bureau))
    assert bad.status_code == 422  # a retired code
    assert (await client.get(f"{API}/completeness", headers=keys.auth(keys.scraper))).status_code == 403
