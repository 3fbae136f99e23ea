"""Keys over their life: last use (written at most once a minute), expiry, rotation with a grace period, names
unique among active keys (also under concurrent creation), and the CLI's `--expires` and `rotate`."""

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import ApiKey
from tests.api.helpers import assert_problem
from tests.conftest import Keys

API = "/api/v1"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


async def _keys(client: httpx.AsyncClient, keys: Keys) -> dict[int, dict[str, Any]]:
    r = await client.get(f"{API}/keys", headers=keys.auth(keys.admin))
    assert r.status_code == 200, r.text
    return {k["id"]: k for k in r.json()}


async def _set(session: AsyncSession, key_id: int, **values: Any) -> None:
    async with session.begin():
        await session.execute(update(ApiKey).where(ApiKey.id == key_id).values(**values))  # type: ignore[arg-type]


async def _make(client: httpx.AsyncClient, keys: Keys, **body: Any) -> httpx.Response:
    return await client.post(f"{API}/keys", json={"role": "bureau", "name": "统计处", **body},
                             headers=keys.auth(keys.admin))


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def test_last_used_at_is_written_at_most_once_a_minute(
    client: httpx.AsyncClient, keys: Keys, session: AsyncSession
) -> None:
    made = (await _make(client, keys)).json()
    assert made["last_used_at"] is None
    before = datetime.now(UTC)
    assert (await client.get(f"{API}/actions", headers=keys.auth(made["key"]))).status_code == 200
    first = _at((await _keys(client, keys))[made["id"]]["last_used_at"])
    assert before - timedelta(seconds=1) <= first <= datetime.now(UTC)
    assert (await client.get(f"{API}/actions", headers=keys.auth(made["key"]))).status_code == 200
    assert _at((await _keys(client, keys))[made["id"]]["last_used_at"]) == first  # within the minute: unchanged
    await _set(session, made["id"], last_used_at=first - timedelta(minutes=2))
    assert (await client.get(f"{API}/actions", headers=keys.auth(made["key"]))).status_code == 200
    assert _at((await _keys(client, keys))[made["id"]]["last_used_at"]) > first


async def test_a_key_expires(client: httpx.AsyncClient, keys: Keys, session: AsyncSession) -> None:
    made = (await _make(client, keys, expires="2027-06-30")).json()
    # Valid through 30 June 2027 in Asia/Shanghai: the last microsecond is 15:59:59.999999 UTC.
    assert _at(made["expires_at"]) == datetime(2027, 6, 30, 15, 59, 59, 999999, tzinfo=UTC)
    assert (await client.get(f"{API}/actions", headers=keys.auth(made["key"]))).status_code == 200
    await _set(session, made["id"], expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert_problem(await client.get(f"{API}/actions", headers=keys.auth(made["key"])), 401)
    assert (await _keys(client, keys))[made["id"]]["active"] is False
    # Its name is free again: names are unique among active keys only.
    assert (await _make(client, keys)).status_code == 201


async def test_an_expiry_in_the_past_or_unreadable_is_422(client: httpx.AsyncClient, keys: Keys) -> None:
    for expires in ("2020-01-01", "2026-13-01", "tomorrow!!"):
        assert_problem(await _make(client, keys, expires=expires), 422)


async def test_rotation_keeps_the_old_key_for_its_grace_only(
    client: httpx.AsyncClient, keys: Keys, session: AsyncSession
) -> None:
    old = (await _make(client, keys, name="黄岛区教体局", role="district", unit="370211")).json()
    started = datetime.now(UTC)
    r = await client.post(f"{API}/keys/{old['id']}/rotate", headers=keys.auth(keys.admin))
    assert r.status_code == 201, r.text
    new = r.json()
    assert (new["name"], new["role"], new["unit"]) == ("黄岛区教体局", "district", "370211")
    assert new["key"] != old["key"]
    listed = await _keys(client, keys)
    assert listed[old["id"]]["replaced_by"] == new["id"] and listed[old["id"]]["active"] and listed[new["id"]]["active"]
    grace_end = _at(listed[old["id"]]["expires_at"])
    assert started + timedelta(hours=24) - timedelta(seconds=5) <= grace_end <= datetime.now(UTC) + timedelta(hours=24)
    for token in (old["key"], new["key"]):  # both work during the grace period
        assert (await client.get(f"{API}/actions", headers=keys.auth(token))).status_code == 200
    # During the grace period two active keys share the name; no third may take it, and the old one is not
    # rotated twice.
    assert assert_problem(await _make(client, keys, name="黄岛区教体局"), 409)["code"] == "key_name_taken"
    assert_problem(await client.post(f"{API}/keys/{old['id']}/rotate", headers=keys.auth(keys.admin)), 404)
    await _set(session, old["id"], expires_at=datetime.now(UTC) - timedelta(seconds=1))  # the grace is over
    assert_problem(await client.get(f"{API}/actions", headers=keys.auth(old["key"])), 401)
    assert (await client.get(f"{API}/actions", headers=keys.auth(new["key"]))).status_code == 200


async def test_names_are_unique_among_active_keys(client: httpx.AsyncClient, keys: Keys) -> None:
    for name in ("test admin", "TEST  Admin", "ｔｅｓｔ admin"):
        doc = assert_problem(await _make(client, keys, name=name), 409)
        assert doc["code"] == "key_name_taken"
    listed = await _keys(client, keys)
    admin_id = next(k["id"] for k in listed.values() if k["name"] == "test admin")
    other = (await _make(client, keys, name="spare admin", role="admin")).json()
    assert (await client.delete(f"{API}/keys/{admin_id}", headers=keys.auth(other["key"]))).status_code == 204
    r = await client.post(f"{API}/keys", json={"role": "bureau", "name": "test admin"},
                          headers=keys.auth(other["key"]))
    assert r.status_code == 201, r.text


async def test_concurrent_creation_gives_a_name_once(client: httpx.AsyncClient, keys: Keys) -> None:
    answers = await asyncio.gather(*(_make(client, keys, name="并发") for _ in range(6)))
    assert sorted(r.status_code for r in answers) == [201] + [409] * 5, [r.text for r in answers]
    assert [k["name"] for k in (await _keys(client, keys)).values()].count("并发") == 1


def _cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    # The CLI speaks ATTAIN_DEFAULT_LANG (Chinese by default); these checks read its English wording.
    env = {**os.environ, "ATTAIN_DATABASE_URL": database_url, "ATTAIN_DEFAULT_LANG": "en"}
    return subprocess.run([sys.executable, "-m", "app.cli", "keys", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120, check=False)


async def test_the_cli_creates_expiring_keys_and_rotates_them(
    client: httpx.AsyncClient, keys: Keys, database_url: str
) -> None:
    made = await asyncio.to_thread(_cli, database_url, "create", "--role", "bureau", "--name", "外部审计",
                                   "--expires", "2027-06-30")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert (await client.get(f"{API}/actions", headers=keys.auth(token))).status_code == 200
    listed = await asyncio.to_thread(_cli, database_url, "list")
    line = next(ln for ln in listed.stdout.splitlines() if ln.endswith("外部审计"))
    assert "active until 2027-06-30 15:59Z" in line and "\t" in line
    key_id = line.split("\t")[0]
    rotated = await asyncio.to_thread(_cli, database_url, "rotate", key_id)
    assert rotated.returncode == 0, rotated.stderr
    new_token = rotated.stdout.strip()
    assert new_token.startswith("attain_") and new_token != token
    for t in (token, new_token):
        assert (await client.get(f"{API}/actions", headers=keys.auth(t))).status_code == 200
    again = await asyncio.to_thread(_cli, database_url, "create", "--role", "bureau", "--name", "外部审计")
    assert again.returncode == 2 and "already named" in again.stderr
    past = await asyncio.to_thread(_cli, database_url, "create", "--role", "bureau", "--name", "x",
                                   "--expires", "2001-01-01")
    assert past.returncode == 2 and "expir" in past.stderr
