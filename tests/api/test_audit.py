"""Audit: every revision (values, catalog, deliverable reports) records the key's id beside its name, and the
server's own request id — the one in the X-Request-ID answer header and the logs — with the client's
X-Request-ID kept beside it, never instead of it."""

from typing import Any

import httpx

from tests.api.helpers import API, HISTORY, HUANGDAO, MEASUREMENTS, STOCK, batch
from tests.conftest import Keys


async def _key_id(client: httpx.AsyncClient, keys: Keys, name: str) -> int:
    listed = (await client.get(f"{API}/keys", headers=keys.auth(keys.admin))).json()
    return int(next(k["id"] for k in listed if k["name"] == name and k["active"]))


def _server_id(r: httpx.Response) -> str:
    rid = r.headers["x-request-id"]
    assert len(rid) == 32 and rid != "clerk-7", rid
    return rid


async def test_value_revisions_record_the_key_id_and_both_request_ids(client: httpx.AsyncClient, keys: Keys) -> None:
    r = await client.post(MEASUREMENTS, json=batch(HUANGDAO, "2020", {"indicator": STOCK, "value": 5}),
                          headers={**keys.auth(keys.huangdao), "X-Request-ID": "clerk-7"})
    assert r.status_code == 200, r.text
    written = _server_id(r)
    d = await client.delete(MEASUREMENTS, params={"indicator": STOCK, "unit": HUANGDAO, "period": "2020"},
                            headers=keys.auth(keys.huangdao))
    assert d.status_code == 200, d.text
    history = (await client.get(HISTORY, params={"indicator": STOCK, "unit": HUANGDAO, "period": "2020"},
                                headers=keys.auth(keys.bureau))).json()
    key_id = await _key_id(client, keys, "test huangdao")
    assert [(h["action"], h["key_id"], h["key_name"], h["request_id"], h["client_request_id"]) for h in history] == [
        ("create", key_id, "test huangdao", written, "clerk-7"),
        ("delete", key_id, "test huangdao", d.headers["x-request-id"], None)]


async def test_a_spoofed_request_id_is_never_the_stored_one(client: httpx.AsyncClient, keys: Keys) -> None:
    r = await client.patch(f"{API}/indicators/{STOCK}", json={"name_en": "Practice bases (audited)"},
                           headers={**keys.auth(keys.admin), "X-Request-ID": "admin-did-it"})
    assert r.status_code == 200, r.text
    revisions: list[dict[str, Any]] = (await client.get(f"{API}/catalog/revisions", params={"key": STOCK},
                                                        headers=keys.auth(keys.bureau))).json()
    last = revisions[-1]
    assert (last["key_id"], last["key_name"]) == (await _key_id(client, keys, "test admin"), "test admin")
    assert (last["request_id"], last["client_request_id"]) == (_server_id(r), "admin-did-it")


async def test_two_keys_of_one_name_are_told_apart(client: httpx.AsyncClient, keys: Keys) -> None:
    """A name may come back once its key is revoked; the id in the history says which key it was."""
    first = (await client.post(f"{API}/keys", json={"role": "admin", "name": "值班管理员"},
                               headers=keys.auth(keys.admin))).json()
    await client.patch(f"{API}/indicators/{STOCK}", json={"source": "one"}, headers=keys.auth(first["key"]))
    assert (await client.delete(f"{API}/keys/{first['id']}", headers=keys.auth(keys.admin))).status_code == 204
    second = (await client.post(f"{API}/keys", json={"role": "admin", "name": "值班管理员"},
                                headers=keys.auth(keys.admin))).json()
    await client.patch(f"{API}/indicators/{STOCK}", json={"source": "two"}, headers=keys.auth(second["key"]))
    revisions = (await client.get(f"{API}/catalog/revisions", params={"key": STOCK},
                                  headers=keys.auth(keys.bureau))).json()
    assert [(r["key_name"], r["key_id"]) for r in revisions[-2:]] == [("值班管理员", first["id"]),
                                                                       ("值班管理员", second["id"])]


async def test_deliverable_reports_record_the_key_id(client: httpx.AsyncClient, keys: Keys) -> None:
    r = await client.put(f"{API}/deliverables/r03-1/report", json={"state": "in_progress"},
                         headers={**keys.auth(keys.admin), "X-Request-ID": "desk-42"})
    assert r.status_code == 200, r.text
    history = (await client.get(f"{API}/deliverables/r03-1/history", headers=keys.auth(keys.bureau))).json()
    assert (history[-1]["key_id"], history[-1]["request_id"], history[-1]["client_request_id"]) == (
        await _key_id(client, keys, "test admin"), _server_id(r), "desk-42")
