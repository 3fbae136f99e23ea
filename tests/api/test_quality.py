"""Quality flags (SPEC.md): outlier_yoy and outlier_peers as warnings in the POST answer (the value stored),
GET /quality, confirm by the unit's district, a reviewer or admin; a corrected value clears the flag."""

from typing import Any

import httpx

from tests.api.attainment_helpers import API, DISTRICTS, HUANGDAO, NETWORK, OVERSIZED, SHINAN, rate, value
from tests.conftest import Keys


async def _post(client: httpx.AsyncClient, token: str, values: list[dict[str, Any]]) -> dict[str, Any]:
    r = await client.post(f"{API}/measurements", json={"values": values}, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    doc: dict[str, Any] = r.json()
    assert doc["counts"]["rejected"] == 0, doc
    return doc


async def _flags(client: httpx.AsyncClient, keys: Keys, **params: Any) -> list[dict[str, Any]]:
    r = await client.get(f"{API}/quality", params=params, headers=keys.auth(keys.bureau))
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()
    return found


async def test_year_on_year_jumps(client: httpx.AsyncClient, keys: Keys) -> None:
    first = await _post(client, keys.huangdao, [value(OVERSIZED, HUANGDAO, "2019", 100)])
    assert first["warnings"] == []  # the first year has nothing to compare with
    jump = await _post(client, keys.huangdao, [value(OVERSIZED, HUANGDAO, "2018", 5),
                                               value(OVERSIZED, HUANGDAO, "2020", 160)])
    assert [(w["index"], w["code"]) for w in jump["warnings"]] == [(1, "outlier_yoy")]
    assert "+60%" in jump["warnings"][0]["detail"]
    (flag,) = await _flags(client, keys, indicator=OVERSIZED, unit=HUANGDAO, year=2020)
    assert flag["code"] == "outlier_yoy" and flag["state"] == "open" and flag["value"] == 160
    assert flag["figures"]["previous"] == 100 and abs(flag["figures"]["change"] - 0.6) < 1e-9
    # 2019 (100) jumped from 2018 (5) too: its flag came with the later write of 2018.
    assert [f["year"] for f in await _flags(client, keys, indicator=OVERSIZED, state="open")] == [2019, 2020]

    fine = await _post(client, keys.huangdao, [value(OVERSIZED, HUANGDAO, "2020", 140)])  # +40%
    assert fine["warnings"] == []
    (cleared,) = await _flags(client, keys, indicator=OVERSIZED, unit=HUANGDAO, year=2020)
    assert cleared["state"] == "cleared"

    zero = await _post(client, keys.shinan, [value(OVERSIZED, SHINAN, "2019", 0), value(OVERSIZED, SHINAN, "2020", 50)])
    assert zero["warnings"] == []  # nothing to compare with a previous 0


async def test_a_rate_moving_twelve_points(client: httpx.AsyncClient, keys: Keys) -> None:
    await _post(client, keys.huangdao, [rate(NETWORK, HUANGDAO, "2019", 800, 1000)])
    moved = await _post(client, keys.huangdao, [rate(NETWORK, HUANGDAO, "2020", 920, 1000)])
    assert [w["code"] for w in moved["warnings"]] == ["outlier_yoy"]
    nine = await _post(client, keys.huangdao, [rate(NETWORK, HUANGDAO, "2020", 890, 1000)])
    assert nine["warnings"] == []


PEERS = [90, 91, 89, 90, 92, 88, 90, 91, 89]  # with 50 for 黄岛区: z ≈ −2.8 if it were in its own comparison


async def test_a_peer_outlier_among_ten_districts(client: httpx.AsyncClient, keys: Keys) -> None:
    others = [d for d in DISTRICTS if d != HUANGDAO]
    rows = [rate(NETWORK, d, "2020", n * 10, 1000) for d, n in zip(others, PEERS, strict=True)]
    rows.append(rate(NETWORK, HUANGDAO, "2020", 500, 1000))
    doc = await _post(client, keys.admin, rows)
    assert [(w["index"], w["code"]) for w in doc["warnings"]] == [(9, "outlier_peers")]
    (flag,) = await _flags(client, keys, indicator=NETWORK, state="open")
    assert flag["unit"] == HUANGDAO and flag["figures"]["siblings"] == 9 and abs(flag["figures"]["mean"] - 90) < 1e-9
    assert flag["figures"]["z"] < -3

    for token in (keys.shinan, keys.bureau, keys.scraper):
        r = await client.post(f"{API}/quality/{flag['id']}/confirm", json={"note": "属实"},
                              headers=keys.auth(token))
        assert r.status_code == 403
    ok = await client.post(f"{API}/quality/{flag['id']}/confirm", json={"note": "新校区尚未接入"},
                           headers=keys.auth(keys.huangdao))
    assert ok.status_code == 200 and ok.json()["state"] == "confirmed" and ok.json()["confirmed_by"] == "test huangdao"
    again = await client.post(f"{API}/quality/{flag['id']}/confirm", json={"note": "x"},
                              headers=keys.auth(keys.reviewer))
    assert again.status_code == 409
    assert (await client.post(f"{API}/quality/9999/confirm", json={"note": "x"},
                              headers=keys.auth(keys.admin))).status_code == 404

    corrected = await _post(client, keys.huangdao, [rate(NETWORK, HUANGDAO, "2020", 895, 1000)])
    assert corrected["warnings"] == []
    assert await _flags(client, keys, indicator=NETWORK, state="open") == []
    assert [f["state"] for f in await _flags(client, keys, indicator=NETWORK)] == ["cleared"]


async def test_no_peer_flag_with_four_siblings(client: httpx.AsyncClient, keys: Keys) -> None:
    others = [d for d in DISTRICTS if d != HUANGDAO][:4]
    rows = [rate(NETWORK, d, "2020", 900, 1000) for d in others] + [rate(NETWORK, HUANGDAO, "2020", 500, 1000)]
    doc = await _post(client, keys.admin, rows)
    assert doc["warnings"] == []
    assert await _flags(client, keys, indicator=NETWORK) == []
