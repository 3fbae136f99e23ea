"""Review and locking (SPEC.md): each transition by each role, locked rows refused in a batch, atomic and
dry_run, DELETE of a locked value, the lock reaching down only, unlock rules, history — both databases."""

import asyncio
from typing import Any

import httpx
import pytest

from tests.api.attainment_helpers import API, CITY, HUANGDAO, NETWORK, SHINAN, create_indicator, rate, value
from tests.conftest import Keys

SCHOOL = "370211901"
QUARTERLY = "t26-district-test-flow"


async def _post(client: httpx.AsyncClient, token: str, path: str, body: Any = None) -> httpx.Response:
    return await client.post(f"{API}{path}", json=body, headers={"Authorization": f"Bearer {token}"})


async def _submit(client: httpx.AsyncClient, token: str, unit: str = HUANGDAO, year: int = 2020) -> httpx.Response:
    return await _post(client, token, "/reviews", {"unit": unit, "year": year})


async def test_each_transition_by_each_role(client: httpx.AsyncClient, keys: Keys) -> None:
    for token in (keys.shinan, keys.bureau, keys.reviewer):
        assert (await _submit(client, token)).status_code == 403
    assert (await _submit(client, keys.scraper)).status_code == 403
    first = await _submit(client, keys.huangdao)
    assert first.status_code == 201 and first.json()["state"] == "submitted"
    rid = first.json()["id"]
    again = await _submit(client, keys.huangdao)
    assert again.status_code == 409 and again.json()["code"] == "review_state"

    for token in (keys.huangdao, keys.bureau, keys.city, keys.scraper):
        assert (await _post(client, token, f"/reviews/{rid}/approve")).status_code == 403
        assert (await _post(client, token, f"/reviews/{rid}/return", {"comment": "再核"})).status_code == 403
    returned = await _post(client, keys.reviewer, f"/reviews/{rid}/return", {"comment": "分母有误"})
    assert returned.status_code == 200 and returned.json()["state"] == "returned"
    assert (await _post(client, keys.reviewer, f"/reviews/{rid}/approve")).status_code == 409  # not submitted
    resubmitted = await _submit(client, keys.huangdao)
    assert resubmitted.status_code == 200 and resubmitted.json()["id"] == rid
    approved = await _post(client, keys.reviewer, f"/reviews/{rid}/approve", {"comment": "通过"})
    assert approved.status_code == 200 and approved.json()["state"] == "approved"
    assert (await _post(client, keys.admin, f"/reviews/{rid}/approve")).status_code == 409
    assert (await _post(client, keys.admin, f"/reviews/{rid}/return", {"comment": "x"})).status_code == 409
    assert (await _submit(client, keys.huangdao)).status_code == 409  # approved: not submitted again

    for token in (keys.reviewer, keys.huangdao, keys.bureau):
        assert (await _post(client, token, f"/reviews/{rid}/unlock", {"reason": "更正"})).status_code == 403
    opened = await _post(client, keys.admin, f"/reviews/{rid}/unlock", {"reason": "更正分母"})
    assert opened.status_code == 200 and opened.json()["state"] == "open"
    assert (await _post(client, keys.admin, f"/reviews/{rid}/unlock", {"reason": "x"})).status_code == 409
    assert (await _post(client, keys.admin, f"/reviews/{rid}/approve")).status_code == 409  # open, not submitted
    assert (await _submit(client, keys.admin)).status_code == 200
    assert (await _post(client, keys.admin, f"/reviews/{rid}/approve")).json()["state"] == "approved"

    r = await client.get(f"{API}/reviews/{rid}", headers=keys.auth(keys.bureau))
    history = r.json()["history"]
    assert [(e["action"], e["state"], e["key_name"]) for e in history] == [
        ("submit", "submitted", "test huangdao"), ("return", "returned", "test reviewer"),
        ("resubmit", "submitted", "test huangdao"), ("approve", "approved", "test reviewer"),
        ("unlock", "open", "test admin"), ("resubmit", "submitted", "test admin"),
        ("approve", "approved", "test admin")]
    assert history[1]["comment"] == "分母有误" and history[4]["comment"] == "更正分母"
    assert history[3]["digest"] and history[0]["digest"] is None
    listed = await client.get(f"{API}/reviews", params={"unit": CITY, "year": 2020, "state": "approved"},
                              headers=keys.auth(keys.bureau))
    assert [x["id"] for x in listed.json()] == [rid]
    assert (await client.get(f"{API}/reviews", params={"state": "submitted"},
                             headers=keys.auth(keys.bureau))).json() == []
    assert (await client.get(f"{API}/reviews/999", headers=keys.auth(keys.bureau))).status_code == 404
    assert (await _post(client, keys.reviewer, "/reviews/999/approve")).status_code == 404
    assert (await _post(client, keys.reviewer, f"/reviews/{rid}/return", {})).status_code == 422  # a comment


async def _setup_locked(client: httpx.AsyncClient, keys: Keys) -> int:
    r = await client.post(f"{API}/units", json={"code": SCHOOL, "name": "测试一中", "parent": HUANGDAO,
                                               "level": "school"}, headers=keys.auth(keys.admin))
    assert r.status_code == 201, r.text
    await create_indicator(client, keys, code=QUARTERLY, task=26, unit="yuan", measure="flow", level="district",
                           frequency="quarter")
    r = await _post(client, keys.huangdao, "/measurements", {"values": [
        rate(NETWORK, HUANGDAO, "2020", 950, 1000), value(QUARTERLY, HUANGDAO, "2020Q1", 10),
        rate(NETWORK, SCHOOL, "2020", 45, 50)]})
    assert r.status_code == 200 and r.json()["counts"]["created"] == 3, r.text
    rid: int = (await _submit(client, keys.huangdao)).json()["id"]
    assert (await _post(client, keys.reviewer, f"/reviews/{rid}/approve")).status_code == 200
    return rid


async def _value(client: httpx.AsyncClient, keys: Keys, indicator: str, unit: str, period: str) -> float | None:
    r = await client.get(f"{API}/measurements", params={"indicator": indicator, "unit": unit},
                         headers=keys.auth(keys.bureau))
    found = [v for v in r.json()["items"] if v["period"] == period]
    return found[0]["value"] if found else None


async def test_locked_rows_are_refused_while_others_are_stored(client: httpx.AsyncClient, keys: Keys) -> None:
    rid = await _setup_locked(client, keys)
    batch = {"values": [
        rate(NETWORK, HUANGDAO, "2020", 960, 1000),  # the district's yearly value
        value(QUARTERLY, HUANGDAO, "2020Q2", 5),  # a quarter of that year
        rate(NETWORK, SCHOOL, "2020", 46, 50),  # a school below the district
        value(QUARTERLY, HUANGDAO, "2020Q1", 10),  # an identical resend
        rate(NETWORK, HUANGDAO, "2021", 970, 1000),  # another year
    ]}
    for dry in (True, False):
        r = await client.post(f"{API}/measurements", params={"dry_run": dry}, json=batch,
                              headers=keys.auth(keys.huangdao))
        assert r.status_code == 200, r.text
        doc = r.json()
        assert [(c["index"], c["code"]) for c in doc["conflicts"]] == [(0, "locked"), (1, "locked"), (2, "locked")]
        assert doc["counts"] == {"created": 1, "updated": 0, "unchanged": 1, "rejected": 3}
    assert await _value(client, keys, NETWORK, HUANGDAO, "2020") == 95.0
    assert await _value(client, keys, NETWORK, SCHOOL, "2020") == 90.0
    assert await _value(client, keys, QUARTERLY, HUANGDAO, "2020Q2") is None
    assert await _value(client, keys, NETWORK, HUANGDAO, "2021") == 97.0

    # The lock reaches down only: the city's own 2020 and another district's 2020 may still be written.
    r = await _post(client, keys.admin, "/measurements", {"values": [rate(NETWORK, SHINAN, "2020", 90, 100),
                                                                      rate(NETWORK, CITY, "2020", 9, 10)]})
    assert r.status_code == 200 and r.json()["counts"]["created"] == 2, r.text

    gone = await client.delete(f"{API}/measurements", params={"indicator": NETWORK, "unit": SCHOOL, "period": "2020"},
                               headers=keys.auth(keys.huangdao))
    assert gone.status_code == 409 and gone.json()["code"] == "locked"
    assert await _value(client, keys, NETWORK, SCHOOL, "2020") == 90.0

    # An approved city above: unlocking the district first is 409; unlocking top-down then writing works.
    city = (await _submit(client, keys.admin, CITY)).json()["id"]
    assert (await _post(client, keys.reviewer, f"/reviews/{city}/approve")).status_code == 200
    blocked = await _post(client, keys.admin, f"/reviews/{rid}/unlock", {"reason": "更正"})
    assert blocked.status_code == 409 and blocked.json()["code"] == "locked"
    assert (await _post(client, keys.admin, f"/reviews/{city}/unlock", {"reason": "更正"})).status_code == 200
    assert (await _post(client, keys.admin, f"/reviews/{rid}/unlock", {"reason": "更正"})).status_code == 200
    r = await _post(client, keys.huangdao, "/measurements", {"values": [rate(NETWORK, SCHOOL, "2020", 46, 50)]})
    assert r.status_code == 200 and r.json()["counts"]["updated"] == 1
    assert await _value(client, keys, NETWORK, SCHOOL, "2020") == 92.0


async def test_atomic_with_a_locked_row_stores_nothing(client: httpx.AsyncClient, keys: Keys) -> None:
    await _setup_locked(client, keys)
    body = {"values": [rate(NETWORK, HUANGDAO, "2021", 970, 1000), rate(NETWORK, SCHOOL, "2020", 46, 50)]}
    r = await client.post(f"{API}/measurements", params={"atomic": True}, json=body, headers=keys.auth(keys.huangdao))
    assert r.status_code == 422 and r.json()["counts"]["rejected"] == 2
    assert [c["code"] for c in r.json()["conflicts"]] == ["locked"]
    assert await _value(client, keys, NETWORK, HUANGDAO, "2021") is None


async def test_a_unit_added_under_a_locked_dataset_cannot_report_that_year(client: httpx.AsyncClient, keys: Keys
                                                                          ) -> None:
    await _setup_locked(client, keys)
    r = await client.post(f"{API}/units", json={"code": "370211902", "name": "测试二中", "parent": HUANGDAO,
                                               "level": "school"}, headers=keys.auth(keys.admin))
    assert r.status_code == 201
    r = await _post(client, keys.huangdao, "/measurements", {"values": [rate(NETWORK, "370211902", "2020", 1, 2)]})
    assert r.status_code == 422 and r.json()["conflicts"][0]["code"] == "locked"


@pytest.mark.parametrize("rounds", [12])
async def test_a_concurrent_approve_and_write_never_leave_a_change_in_an_approved_dataset(
    client: httpx.AsyncClient, keys: Keys, rounds: int
) -> None:
    """Race an approval against a write of the same dataset: either the write lands first and the approval saw it,
    or the approval lands first and the write is `locked`. The approval's digest must match the values after."""
    await _post(client, keys.huangdao, "/measurements", {"values": [rate(NETWORK, HUANGDAO, "2019", 900, 1000)]})
    for n in range(rounds):
        rid = (await _submit(client, keys.huangdao, year=2019)).json()["id"]
        write = _post(client, keys.huangdao, "/measurements",
                      {"values": [rate(NETWORK, HUANGDAO, "2019", 901 + n, 1000)]})
        approve = _post(client, keys.reviewer, f"/reviews/{rid}/approve")
        w, a = await asyncio.gather(write, approve) if n % 2 else reversed(await asyncio.gather(approve, write))
        assert a.status_code == 200, a.text
        assert w.status_code in (200, 422), w.text
        stored = await _value(client, keys, NETWORK, HUANGDAO, "2019")
        if w.status_code == 200:
            assert stored == pytest.approx((901 + n) / 10)
        else:
            assert w.json()["conflicts"][0]["code"] == "locked"
        history = (await client.get(f"{API}/reviews/{rid}", headers=keys.auth(keys.bureau))).json()["history"]
        approved_digest = history[-1]["digest"]
        # Approve again after an unlock-resubmit: the digest of the same values must be the same string.
        assert (await _post(client, keys.admin, f"/reviews/{rid}/unlock", {"reason": "next round"})).status_code == 200
        assert (await _submit(client, keys.admin, HUANGDAO, 2019)).status_code == 200
        again = await _post(client, keys.admin, f"/reviews/{rid}/approve")
        assert again.json()["history"][-1]["digest"] == approved_digest, f"round {n}: a change slipped in"
        assert (await _post(client, keys.admin, f"/reviews/{rid}/unlock", {"reason": "next round"})).status_code == 200


async def test_idempotency_keys_replay_review_actions(client: httpx.AsyncClient, keys: Keys) -> None:
    def h(token: str, key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}", "Idempotency-Key": key}

    body = {"unit": HUANGDAO, "year": 2020}
    first = await client.post(f"{API}/reviews", json=body, headers=h(keys.huangdao, "hd-2020"))
    again = await client.post(f"{API}/reviews", json=body, headers=h(keys.huangdao, "hd-2020"))
    assert first.status_code == again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    other = await client.post(f"{API}/reviews", json={"unit": HUANGDAO, "year": 2021},
                              headers=h(keys.huangdao, "hd-2020"))
    assert other.status_code == 422
    rid = first.json()["id"]
    a1 = await client.post(f"{API}/reviews/{rid}/approve", headers=h(keys.reviewer, "ok-1"))
    a2 = await client.post(f"{API}/reviews/{rid}/approve", headers=h(keys.reviewer, "ok-1"))
    assert a1.status_code == a2.status_code == 200 and a2.headers["Idempotent-Replayed"] == "true"
    a3 = await client.post(f"{API}/reviews/{rid}/approve", headers=h(keys.reviewer, "ok-2"))
    assert a3.status_code == 409  # a new key is a new request: approving an approved dataset
    replayed_409 = await client.post(f"{API}/reviews/{rid}/approve", headers=h(keys.reviewer, "ok-2"))
    assert replayed_409.status_code == 409 and replayed_409.headers["Idempotent-Replayed"] == "true"
    history = (await client.get(f"{API}/reviews/{rid}", headers=keys.auth(keys.bureau))).json()["history"]
    assert [e["action"] for e in history] == ["submit", "approve"]
