"""Who may do what: no key 401, wrong role 403, revoked 401; keys kept only as hashes."""

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import keys as key_store
from app.db.models import ApiKey
from tests.conftest import Keys

API = "/api/v1"


async def test_no_key_is_401_problem(client: httpx.AsyncClient) -> None:
    r = await client.get(f"{API}/actions")
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == 401 and body["title"] and body["type"].startswith("https://")
    assert r.headers["www-authenticate"] == "Bearer"
    assert (await client.get(f"{API}/actions", headers={"Authorization": "Bearer nonsense"})).status_code == 401
    assert (await client.get(f"{API}/actions", headers={"Authorization": "Basic abc"})).status_code == 401


async def test_scraper_cannot_read_the_api(client: httpx.AsyncClient, keys: Keys) -> None:
    r = await client.get(f"{API}/actions", headers=keys.auth(keys.scraper))
    assert r.status_code == 403 and "scraper" in r.json()["detail"]


async def test_district_and_bureau_cannot_edit_the_catalog(client: httpx.AsyncClient, keys: Keys) -> None:
    for token in (keys.bureau, keys.huangdao):
        r = await client.patch(f"{API}/indicators/t03-campus-network-compliance", json={"name_en": "x"},
                               headers=keys.auth(token))
        assert r.status_code == 403


async def test_revoked_key_is_401(client: httpx.AsyncClient, keys: Keys, session: AsyncSession) -> None:
    assert (await client.get(f"{API}/actions", headers=keys.auth(keys.bureau))).status_code == 200
    async with session.begin():
        assert await key_store.revoke(session, name="test bureau") == 1
    assert (await client.get(f"{API}/actions", headers=keys.auth(keys.bureau))).status_code == 401


async def test_keys_are_stored_as_hashes(keys: Keys, session: AsyncSession) -> None:
    rows = (await session.execute(select(ApiKey))).scalars().all()
    stored = " ".join(f"{r.prefix} {r.key_hash} {r.name}" for r in rows)
    for token in (keys.admin, keys.bureau, keys.huangdao):
        secret = token.split("_", 2)[2]
        assert secret not in stored
    assert all(len(r.key_hash) == 64 for r in rows)


async def test_health_and_unknown_route(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).json() == {"status": "ready"}
    r = await client.get(f"{API}/nowhere")
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
