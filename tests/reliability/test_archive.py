"""`attain export` / `attain import`: a store with a rich history (values created, updated and deleted, targets
added, edited and removed, a unit added, keys created, rotated and revoked, deliverable reports) exported from
SQLite, imported into an empty PostgreSQL (and SQLite) store, exported again: the two archives are the same
bytes, and the attainment report — now and as of a past instant — is the same on both. Import refuses a store
that holds anything, and the imported store keeps taking writes (its id sequences moved past the imported ids)."""

import asyncio
import io
import shutil
import subprocess
import sys
import uuid
import zipfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI

from app.db.archive import export_store, import_store
from app.db.engine import create_engine
from app.db.migrate import upgrade
from app.domain.archive import ArchiveError
from app.i18n import message_of, render
from app.main import create_app
from app.settings import Settings
from tests.api.helpers import API, CITY, FLOW, HUANGDAO, MEASUREMENTS, RATE, SHINAN, STOCK
from tests.conftest import BACKENDS, PG_URL, Keys, _pg_admin, _pg_url

ROOT = Path(__file__).resolve().parents[2]


@asynccontextmanager
async def served(url: str) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(Settings(database_url=url, log_level="warning"))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://attain.test") as client:
            yield app, client


@asynccontextmanager
async def empty_store(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    """A migrated store with nothing in it."""
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path}/target-{uuid.uuid4().hex[:6]}.db"
        await asyncio.to_thread(upgrade, url)
        yield url
        return
    name = f"attain_imp_{uuid.uuid4().hex[:8]}"
    await _pg_admin(f"CREATE DATABASE {name}")
    try:
        await asyncio.to_thread(upgrade, _pg_url(name))
        yield _pg_url(name)
    finally:
        await _pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


KEY = b"0123456789abcdef0123456789abcdef"  # the operator's archive key (tests only)


async def export_bytes(url: str, key: bytes | None = KEY) -> bytes:
    engine = create_engine(Settings(database_url=url))
    try:
        out = io.BytesIO()
        await export_store(engine, out, key=key)
        return out.getvalue()
    finally:
        await engine.dispose()


def english(exc: ArchiveError) -> str:
    return str(render(message_of(exc), "en"))


def _ok(r: httpx.Response, *statuses: int) -> dict[str, Any] | list[Any]:
    assert r.status_code in (statuses or (200,)), r.text
    return r.json() if r.content else {}


async def rich_history(client: httpx.AsyncClient, keys: Keys) -> str:
    """Two phases of changes; returns an instant between them."""
    admin, hd, sn = keys.auth(keys.admin), keys.auth(keys.huangdao), keys.auth(keys.shinan)
    rows = [{"indicator": RATE, "unit": u, "period": str(y), "numerator": n + y - 2018, "denominator": 1000,
             "comment": f"{u} {y}"} for u, n in ((HUANGDAO, 950), (SHINAN, 962)) for y in range(2018, 2023)]
    _ok(await client.post(MEASUREMENTS, json={"values": rows[:5]}, headers=hd))
    _ok(await client.post(MEASUREMENTS, json={"values": rows[5:]}, headers=sn))
    _ok(await client.post(MEASUREMENTS, json={"values": [
        {"indicator": STOCK, "unit": HUANGDAO, "period": "2020", "value": 12},
        {"indicator": STOCK, "unit": HUANGDAO, "period": "2021", "value": 15.5}]}, headers=hd))
    _ok(await client.post(MEASUREMENTS, json={"values": [
        {"indicator": FLOW, "unit": CITY, "period": f"2021Q{q}", "value": 7_500_000 + q} for q in (1, 2, 3, 4)]},
        headers=admin))
    school = _ok(await client.post(f"{API}/units", json={"code": "370211001", "name": "黄岛区第一中学",
                                                          "parent": HUANGDAO, "aliases": ["黄岛一中"]}, headers=admin),
                 201)
    _ok(await client.post(MEASUREMENTS, json={"values": [
        {"indicator": RATE, "unit": "黄岛一中", "period": "2021", "numerator": 99, "denominator": 100}]}, headers=hd))
    await asyncio.sleep(0.05)
    past = datetime.now(UTC).isoformat()
    await asyncio.sleep(0.05)
    # Phase two: updates, a delete, target edits, keys' lifecycle, deliverable reports.
    _ok(await client.post(MEASUREMENTS, json={"values": [
        {"indicator": RATE, "unit": HUANGDAO, "period": "2020", "numerator": 990, "denominator": 1000,
         "comment": "更正"}]}, headers=hd))
    _ok(await client.delete(MEASUREMENTS, params={"indicator": STOCK, "unit": HUANGDAO, "period": "2021"},
                            headers=hd))
    detail = _ok(await client.get(f"{API}/indicators/{STOCK}", headers=admin))
    assert isinstance(detail, dict)
    target_id = detail["targets"][0]["id"]
    _ok(await client.patch(f"{API}/targets/{target_id}", json={"value": 14, "note": "调整"}, headers=admin))
    made = _ok(await client.post(f"{API}/indicators/{RATE}/targets", json={
        "unit": SHINAN, "kind": "reach", "op": ">=", "value": 97.5, "year": 2022}, headers=admin), 201)
    assert isinstance(made, dict)
    _ok(await client.patch(f"{API}/targets/{made['id']}", json={"value": 97.0}, headers=admin))
    extra = _ok(await client.post(f"{API}/indicators/{RATE}/targets", json={
        "unit": HUANGDAO, "kind": "reach", "op": ">=", "value": 96, "year": 2021}, headers=admin), 201)
    assert isinstance(extra, dict)
    _ok(await client.delete(f"{API}/targets/{extra['id']}", headers=admin), 204)
    key = _ok(await client.post(f"{API}/keys", json={"role": "district", "unit": "370213", "name": "李沧区教体局",
                                                      "expires": "2030-12-31"}, headers=admin), 201)
    assert isinstance(key, dict)
    _ok(await client.post(f"{API}/keys/{key['id']}/rotate", headers=admin), 201)
    gone = _ok(await client.post(f"{API}/keys", json={"role": "bureau", "name": "临时"}, headers=admin), 201)
    assert isinstance(gone, dict)
    _ok(await client.get(f"{API}/actions", headers=keys.auth(gone["key"])))  # a last use to keep
    _ok(await client.delete(f"{API}/keys/{gone['id']}", headers=admin), 204)
    for body in ({"state": "in_progress", "note": "起草中"},
                 {"state": "done", "done_on": "2019-11-20", "document_no": "青教发〔2019〕12号"}):
        _ok(await client.put(f"{API}/deliverables/r03-1/report", json=body, headers=admin))
    assert isinstance(school, dict)
    return past


REPORTS = [
    ("/attainment", {}), ("/attainment", {"date": "2021-12-31"}), ("/attainment/summary", {}),
    ("/measurements", {"limit": 5000}), ("/measurements/history", {"indicator": RATE, "unit": HUANGDAO,
                                                                    "period": "2020"}),
    ("/catalog/revisions", {}), ("/units", {}), ("/deliverables", {}),
]


async def reports(client: httpx.AsyncClient, token: str, past: str) -> dict[str, Any]:
    out = {}
    for path, params in REPORTS:
        for when in ({}, {"as_of": past}):
            if path in ("/catalog/revisions", "/units", "/measurements/history") and when:
                continue
            r = await client.get(API + path, params={**params, **when}, headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 200, (path, r.text)
            out[f"{path} {params} {when}"] = r.json()
    return out


@pytest.fixture
async def source(templates: dict[str, str], tmp_path: Path) -> str:
    target = tmp_path / "source.db"
    shutil.copyfile(templates["sqlite"], target)
    return f"sqlite+aiosqlite:///{target}"


@pytest.mark.parametrize("backend", BACKENDS)
async def test_export_import_export_gives_the_same_archive_and_reports(
    source: str, tmp_path: Path, backend: str
) -> None:
    async with served(source) as (app, client):
        tokens = await make_keys(app)
        past = await rich_history(client, tokens)
        before = await reports(client, tokens.admin, past)
    archive = await export_bytes(source)
    manifest = orjson.loads(zipfile.ZipFile(io.BytesIO(archive)).read("manifest.json"))
    counted = {t["name"]: t["rows"] for t in manifest["tables"]}
    # 10 + 2 + 4 + 1 values created, one updated, one deleted; 6 + 1 + its rotation + 1 keys; two reports.
    assert (counted["measurement_revisions"], counted["api_keys"], counted["deliverable_revisions"]) == (19, 9, 2)
    path = tmp_path / "store.zip"
    path.write_bytes(archive)
    async with empty_store(backend, tmp_path) as target:
        engine = create_engine(Settings(database_url=target))
        try:
            with pytest.raises(ArchiveError) as refused:
                await import_store(engine, path)
            assert "without its key" in english(refused.value)
            with pytest.raises(ArchiveError) as refused:
                await import_store(engine, path, key=KEY[::-1])
            assert "does not match" in english(refused.value)
            await import_store(engine, path, key=KEY)
            with pytest.raises(ArchiveError) as refused:
                await import_store(engine, path, key=KEY)
            assert "not empty" in english(refused.value)
        finally:
            await engine.dispose()
        assert await export_bytes(target) == archive
        async with served(target) as (_, client):
            after = await reports(client, tokens.admin, past)
            assert after == before
            # The imported store keeps taking writes: ids continue after the imported ones.
            r = await client.post(MEASUREMENTS, json={"values": [
                {"indicator": STOCK, "unit": SHINAN, "period": "2022", "value": 3}]},
                headers={"Authorization": f"Bearer {tokens.shinan}"})
            assert r.status_code == 200, r.text
            made = await client.post(f"{API}/keys", json={"role": "bureau", "name": "导入后"},
                                     headers={"Authorization": f"Bearer {tokens.admin}"})
            assert made.status_code == 201 and made.json()["id"] == counted["api_keys"] + 1, made.text


async def make_keys(app: FastAPI) -> Keys:
    from app.db import keys as key_store
    from app.domain.keys import Role

    specs = {"admin": (Role.ADMIN, None), "bureau": (Role.BUREAU, None), "scraper": (Role.SCRAPER, None),
             "city": (Role.DISTRICT, CITY), "huangdao": (Role.DISTRICT, HUANGDAO), "shinan": (Role.DISTRICT, SHINAN)}
    made = {}
    async with app.state.write_sessions() as s, s.begin():
        for name, (role, unit) in specs.items():
            _, made[name] = await key_store.create_key(s, name=f"test {name}", role=role, unit_code=unit)
    return Keys(**made)


async def test_the_cli_round_trip_and_its_refusals(source: str, tmp_path: Path) -> None:
    env = {"ATTAIN_DATABASE_URL": source}
    file, key_file = tmp_path / "cli.zip", tmp_path / "archive.key"
    key_file.write_bytes(KEY + b"\n")
    done = await asyncio.to_thread(_attain, env, "export", str(file), "--key-file", str(key_file), "--lang", "en")
    assert done.returncode == 0 and file.exists() and "exported" in done.stderr, done.stderr
    into_full = await asyncio.to_thread(_attain, env, "import", str(file), "--key-file", str(key_file), "--lang", "en")
    assert into_full.returncode == 2 and "not empty" in into_full.stderr
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    junk = await asyncio.to_thread(_attain, {"ATTAIN_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/new.db"},
                                   "import", str(tmp_path / "junk.zip"), "--trust-unsigned")
    assert junk.returncode == 2 and "错误" in junk.stderr and "Traceback" not in junk.stderr, junk.stderr
    fresh = {"ATTAIN_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/fresh.db"}
    loaded = await asyncio.to_thread(_attain, fresh, "import", str(file), "--key-file", str(key_file))
    assert loaded.returncode == 0, loaded.stderr
    assert (await export_bytes(fresh["ATTAIN_DATABASE_URL"])) == file.read_bytes()


def _attain(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=ROOT, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=300, check=False)


def test_postgres_is_part_of_the_round_trip_when_it_answers() -> None:
    assert ("postgres" in BACKENDS) == bool(PG_URL)
