"""Shared steps of the attainment API tests: load values, create targets, fetch and pick report rows."""

from typing import Any

import httpx
import pytest

from tests.conftest import Keys

API = "/api/v1"
CITY = "370200"
HUANGDAO = "370211"  # X of worked example 1
SHINAN = "370202"  # Z of worked example 1
DISTRICTS = ("370202", "370203", "370211", "370212", "370213", "370214", "370215", "370281", "370283", "370285")

NETWORK = "t03-campus-network-compliance"
OVERSIZED = "t23-oversized-classes"
FUNDING = "t26-rural-funding"
PRACTICE_BASE = "t14-practice-base"
PRESCHOOL = "t22-preschool-enrolment"
GROSS_ENROLMENT = "t30-senior-secondary-gross-enrolment"
CARE_ROOM = "t25-care-room-completion"

TOL = 5e-5  # the worked examples give figures rounded to 4 significant places


def close(actual: float | None, expected: float, tol: float = 1e-9) -> bool:
    """Equal within an absolute tolerance (None never is)."""
    return actual is not None and actual == pytest.approx(expected, abs=tol)


def rate(indicator: str, unit: str, period: str, numerator: float, denominator: float) -> dict[str, Any]:
    return {"indicator": indicator, "unit": unit, "period": period, "numerator": numerator,
            "denominator": denominator}


def value(indicator: str, unit: str, period: str, amount: float) -> dict[str, Any]:
    return {"indicator": indicator, "unit": unit, "period": period, "value": amount}


async def post_values(client: httpx.AsyncClient, token: str, values: list[dict[str, Any]]) -> dict[str, Any]:
    """POST /measurements and insist every row was stored."""
    body = {"values": values}
    r = await client.post(f"{API}/measurements", json=body, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    doc: dict[str, Any] = r.json()
    assert doc["conflicts"] == [] and doc["counts"]["rejected"] == 0, doc
    return doc


async def get_report(client: httpx.AsyncClient, keys: Keys, **params: Any) -> dict[str, Any]:
    """GET /attainment as the bureau; the whole document."""
    r = await client.get(f"{API}/attainment", params=params, headers=keys.auth(keys.bureau))
    assert r.status_code == 200, r.text
    doc: dict[str, Any] = r.json()
    return doc


async def rows_for(client: httpx.AsyncClient, keys: Keys, indicator: str, **params: Any) -> list[dict[str, Any]]:
    doc = await get_report(client, keys, indicator=indicator, **params)
    rows: list[dict[str, Any]] = doc["rows"]
    return rows


def pick(rows: list[dict[str, Any]], unit: str = CITY, **match: Any) -> dict[str, Any]:
    """The single row for a unit (and any further field matches)."""
    found = [r for r in rows if r["unit_code"] == unit and all(r[k] == v for k, v in match.items())]
    assert len(found) == 1, f"{len(found)} rows for {unit} {match}: {rows}"
    return found[0]


async def row_of(client: httpx.AsyncClient, keys: Keys, indicator: str, unit: str = CITY, **params: Any
                 ) -> dict[str, Any]:
    return pick(await rows_for(client, keys, indicator, **params), unit)


async def create_indicator(client: httpx.AsyncClient, keys: Keys, **fields: Any) -> dict[str, Any]:
    """POST /indicators with sensible defaults (a city-level yearly stock of task 23)."""
    body = {"task": 23, "name_zh": "测试指标", "name_en": "Test indicator", "unit": "class", "measure": "stock",
            "direction": "up", "level": "city", "frequency": "year", "min": 0, "max": None, **fields}
    r = await client.post(f"{API}/indicators", json=body, headers=keys.auth(keys.admin))
    assert r.status_code == 201, r.text
    doc: dict[str, Any] = r.json()
    return doc


async def create_target(client: httpx.AsyncClient, keys: Keys, indicator: str, **fields: Any) -> dict[str, Any]:
    r = await client.post(f"{API}/indicators/{indicator}/targets", json=fields, headers=keys.auth(keys.admin))
    assert r.status_code == 201, r.text
    doc: dict[str, Any] = r.json()
    return doc


async def target_of(client: httpx.AsyncClient, keys: Keys, indicator: str) -> dict[str, Any]:
    """The one target of an indicator, as the catalog shows it."""
    r = await client.get(f"{API}/indicators/{indicator}", headers=keys.auth(keys.bureau))
    assert r.status_code == 200, r.text
    targets: list[dict[str, Any]] = r.json()["targets"]
    assert len(targets) == 1, targets
    return targets[0]


async def patch_target(client: httpx.AsyncClient, keys: Keys, target_id: int, **fields: Any) -> dict[str, Any]:
    r = await client.patch(f"{API}/targets/{target_id}", json=fields, headers=keys.auth(keys.admin))
    assert r.status_code == 200, r.text
    doc: dict[str, Any] = r.json()
    return doc


def network_example(years: tuple[int, ...] = (2018, 2019)) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Worked example 1's values, as (X = 黄岛区 rows, Z = 市南区 rows)."""
    x = {2018: (900, 1000), 2019: (950, 1000), 2020: (990, 1000)}
    z = {2018: (80, 100), 2019: (90, 100), 2020: (95, 100)}
    return ([rate(NETWORK, HUANGDAO, str(y), *x[y]) for y in years],
            [rate(NETWORK, SHINAN, str(y), *z[y]) for y in years])


async def set_indicator(client: httpx.AsyncClient, keys: Keys, indicator: str, **fields: Any) -> dict[str, Any]:
    """PATCH /indicators/{code} as admin (min_completeness, due_days, …)."""
    r = await client.patch(f"{API}/indicators/{indicator}", json=fields, headers=keys.auth(keys.admin))
    assert r.status_code == 200, r.text
    doc: dict[str, Any] = r.json()
    return doc


async def load_network_example(client: httpx.AsyncClient, keys: Keys, years: tuple[int, ...] = (2018, 2019),
                               min_completeness: float | None = 0.2) -> None:
    """Worked example 1: min_completeness 0.2 on the indicator, then each district posts its own values with its
    own key, as the districts would."""
    if min_completeness is not None:
        await set_indicator(client, keys, NETWORK, min_completeness=min_completeness)
    x, z = network_example(years)
    await post_values(client, keys.huangdao, x)
    await post_values(client, keys.shinan, z)
