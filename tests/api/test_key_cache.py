"""Keys are trusted from a short cache (Settings.key_cache_seconds, one second by default): a busy key is looked up
once a second, and a revoked key stops working within that second — on the process that revoked it too."""

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from app.main import create_app
from app.settings import Settings
from tests.conftest import Keys

API = "/api/v1"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, metrics_public=False)  # the default cache


@pytest.fixture
async def second(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """Another process's view of the same database: an app of its own, with its own cache."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://other") as c:
            yield c


async def test_a_revoked_key_stops_working_within_a_second_everywhere(
    client: httpx.AsyncClient, second: httpx.AsyncClient, keys: Keys, settings: Settings
) -> None:
    assert settings.key_cache_seconds == 1.0
    made = await client.post(f"{API}/keys", headers=keys.auth(keys.admin),
                             json={"name": "短期密钥", "role": "bureau"})
    assert made.status_code == 201, made.text
    token, key_id = made.json()["key"], made.json()["id"]
    for c in (client, second):
        assert (await c.get(f"{API}/actions", headers=keys.auth(token))).status_code == 200
    assert (await client.delete(f"{API}/keys/{key_id}", headers=keys.auth(keys.admin))).status_code == 204
    await asyncio.sleep(settings.key_cache_seconds + 0.1)
    for c in (client, second):
        assert (await c.get(f"{API}/actions", headers=keys.auth(token))).status_code == 401
