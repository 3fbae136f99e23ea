"""Archives are authenticated, not just checksummed: an admin key added to api_keys.jsonl with the manifest's
SHA-256 recomputed is refused unless the operator passes --trust-unsigned; every malformed archive (duplicate
table, missing checksum, bad JSON or timestamp, a tampered row) is one line on stderr — Chinese by default,
English with --lang en — exit status 2, never a traceback, and nothing written."""

import asyncio
import hashlib
import io
import re
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from app.db import keys as key_store
from app.db.engine import create_engine, create_session_factory
from app.domain.archive import MANIFEST, SIGNATURE, ZIP_TIME, sign
from app.domain.keys import Role
from app.settings import Settings
from tests.reliability.test_archive import KEY, _attain, export_bytes

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
async def source(templates: dict[str, str], tmp_path: Path) -> str:
    """A seeded SQLite store holding a key (the row an attacker copies)."""
    target = tmp_path / "source.db"
    shutil.copyfile(templates["sqlite"], target)
    url = f"sqlite+aiosqlite:///{target}"
    engine = create_engine(Settings(database_url=url))
    try:
        async with create_session_factory(engine, write=True)() as s, s.begin():
            await key_store.create_key(s, name="青岛市教育局", role=Role.BUREAU, unit_code=None)
    finally:
        await engine.dispose()
    return url


def rebuild(archive: bytes, change: Callable[[dict[str, Any], dict[str, bytes]], None], *,
            key: bytes | None = None) -> bytes:
    """The archive with its manifest and members changed by `change`, signed with `key` (else unsigned)."""
    with zipfile.ZipFile(io.BytesIO(archive)) as z:
        members = {n: z.read(n) for n in z.namelist() if n not in (MANIFEST, SIGNATURE)}
        manifest = orjson.loads(z.read(MANIFEST))
    change(manifest, members)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(zipfile.ZipInfo(name, date_time=ZIP_TIME), data)
        written = orjson.dumps(manifest, option=orjson.OPT_INDENT_2) + b"\n"
        z.writestr(zipfile.ZipInfo(MANIFEST, date_time=ZIP_TIME), written)
        if key is not None:
            z.writestr(zipfile.ZipInfo(SIGNATURE, date_time=ZIP_TIME), sign(written, key))
    return out.getvalue()


def entry(manifest: dict[str, Any], table: str) -> dict[str, Any]:
    return next(t for t in manifest["tables"] if t["name"] == table)


def rechecksum(manifest: dict[str, Any], members: dict[str, bytes], table: str) -> None:
    e = entry(manifest, table)
    e["sha256"] = hashlib.sha256(members[e["member"]]).hexdigest()
    e["rows"] = members[e["member"]].count(b"\n")


def forge_admin(manifest: dict[str, Any], members: dict[str, bytes]) -> None:
    """An attacker's admin key: a copy of the first key's row with a new id and a hash they know the token of."""
    e = entry(manifest, "api_keys")
    rows = [orjson.loads(line) for line in members[e["member"]].splitlines()]
    forged = list(rows[0])
    forged[e["columns"].index("id")] = max(r[e["columns"].index("id")] for r in rows) + 1
    forged[e["columns"].index("key_hash")] = hashlib.sha256(b"attacker's token").hexdigest()
    forged[e["columns"].index("role")] = "admin"
    members[e["member"]] += orjson.dumps(forged) + b"\n"
    rechecksum(manifest, members, "api_keys")


def _line_edit(table: str, edit: Callable[[list[Any], list[str]], bytes], *, fix_sum: bool = True
               ) -> Callable[[dict[str, Any], dict[str, bytes]], None]:
    def change(manifest: dict[str, Any], members: dict[str, bytes]) -> None:
        e = entry(manifest, table)
        lines = members[e["member"]].splitlines()
        lines[0] = edit(orjson.loads(lines[0]), e["columns"])
        members[e["member"]] = b"\n".join(lines) + b"\n"
        if fix_sum:
            rechecksum(manifest, members, table)
    return change


def _bad_timestamp(row: list[Any], columns: list[str]) -> bytes:
    row[columns.index("created_at")] = "2026-13-45T99:00:00Z"
    return orjson.dumps(row)


def _renamed(row: list[Any], columns: list[str]) -> bytes:
    row[columns.index("name")] = "someone else"
    return orjson.dumps(row)


def _duplicate(manifest: dict[str, Any], members: dict[str, bytes]) -> None:
    manifest["tables"].append(dict(manifest["tables"][0]))


def _no_checksum(manifest: dict[str, Any], members: dict[str, bytes]) -> None:
    del entry(manifest, "api_keys")["sha256"]


MALFORMED: dict[str, Callable[[dict[str, Any], dict[str, bytes]], None]] = {
    "duplicate table": _duplicate,
    "missing checksum": _no_checksum,
    "bad JSON": _line_edit("api_keys", lambda row, columns: b"[1, 2, {oops"),
    "bad timestamp": _line_edit("api_keys", _bad_timestamp),
    "tampered row": _line_edit("api_keys", _renamed, fix_sum=False),
    "short row": _line_edit("api_keys", lambda row, columns: orjson.dumps(row[:-1])),
}


async def _import(tmp_path: Path, name: str, archive: bytes, *args: str) -> tuple[int, str, str]:
    """Import `archive` into a fresh store: exit status, stderr, and the URL of that store."""
    path = tmp_path / f"{name}.zip"
    path.write_bytes(archive)
    url = f"sqlite+aiosqlite:///{tmp_path}/{name}.db"
    done = await asyncio.to_thread(_attain, {"ATTAIN_DATABASE_URL": url}, "import", str(path), *args)
    return done.returncode, done.stderr, url


async def _is_empty(url: str) -> bool:
    """Nothing was written: every table empty but the presets the migrations fill (the day a feature came)."""
    from app.db.archive import tables

    presets = {t.name for t in tables() if t.info.get("preset")}
    with zipfile.ZipFile(io.BytesIO(await export_bytes(url, key=None))) as z:
        return all(t["rows"] == 0 for t in orjson.loads(z.read(MANIFEST))["tables"] if t["name"] not in presets)


async def test_a_forged_admin_key_is_refused_unless_the_operator_trusts_the_archive(
    source: str, tmp_path: Path
) -> None:
    key_file = tmp_path / "archive.key"
    key_file.write_bytes(KEY)
    signed = await export_bytes(source)
    forged = rebuild(signed, forge_admin)
    resigned_with_another_key = rebuild(signed, forge_admin, key=b"not the operator's key at all")
    for name, archive in (("forged", forged), ("resigned", resigned_with_another_key)):
        status, err, url = await _import(tmp_path, name, archive, "--key-file", str(key_file))
        assert status == 2 and len(err.strip().splitlines()) == 1 and CJK.search(err), err
        assert await _is_empty(url)
    status, err, url = await _import(tmp_path, "nokey", forged)
    assert status == 2 and "--trust-unsigned" in err and await _is_empty(url), err
    # Told to trust it, import takes it — which is exactly the risk the flag's help names.
    status, err, url = await _import(tmp_path, "trusted", forged, "--trust-unsigned")
    assert status == 0, err
    assert not await _is_empty(url)
    status, err, _ = await _import(tmp_path, "genuine", signed, "--key-file", str(key_file))
    assert status == 0, err


async def test_every_malformed_archive_is_one_line_and_exit_2(source: str, tmp_path: Path) -> None:
    key_file = tmp_path / "archive.key"
    key_file.write_bytes(KEY)
    signed = await export_bytes(source)
    for name, change in MALFORMED.items():
        # Signed with the operator's key: the archive is authentic, and still must not be half-read.
        archive = rebuild(signed, change, key=KEY)
        slug = name.replace(" ", "-")
        status, err, url = await _import(tmp_path, slug, archive, "--key-file", str(key_file))
        lines = err.strip().splitlines()
        assert status == 2 and len(lines) == 1 and CJK.search(lines[0]), (name, err)
        assert "Traceback" not in err
        assert await _is_empty(url), name
        status, err, _ = await _import(tmp_path, slug + "-en", archive, "--key-file", str(key_file),
                                       "--lang", "en")
        assert status == 2 and len(err.strip().splitlines()) == 1, (name, err)
        assert err.startswith("error: ") and not CJK.search(err), (name, err)
