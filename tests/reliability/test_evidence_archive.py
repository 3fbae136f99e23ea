"""Evidence files and supervision records survive `attain export` / `attain import` (SQLite → SQLite and →
PostgreSQL): upload, list, download, export, import, download again — the same bytes; the second export equals
the first, the install day included."""

import hashlib
import io
import os
import zipfile
from pathlib import Path

import orjson
import pytest

from app.db.archive import import_store
from app.db.engine import create_engine
from app.settings import Settings
from tests.api.deliverable_helpers import API, auth, department_key
from tests.api.supervision_helpers import CODE, DEPARTMENT, PDF, extend, patch, progress
from tests.conftest import BACKENDS
from tests.reliability.test_archive import empty_store, export_bytes, make_keys, served, source  # noqa: F401

BIG = b"%PDF-1.7\n" + os.urandom(3 * 1024 * 1024) + b"\n%%EOF\n"  # random bytes: any change would show


@pytest.mark.parametrize("backend", BACKENDS)
async def test_evidence_travels_byte_identical(source: str, tmp_path: Path, backend: str) -> None:  # noqa: F811
    async with served(source) as (app, client):
        tokens = await make_keys(app)
        mine = await department_key(app, DEPARTMENT)
        assert (await patch(client, tokens.admin, deadline="2099-06-30")).status_code == 200
        r = await progress(client, mine, files=[("进展.pdf", PDF), ("大文件.pdf", BIG)])
        assert r.status_code == 201, r.text
        files = r.json()["files"]
        assert (await extend(client, mine, new_deadline="2099-09-30")).status_code == 201
        for f, content in zip(files, (PDF, BIG), strict=True):
            assert (await client.get(f["url"], headers=auth(tokens.bureau))).content == content
        listed = (await client.get(f"{API}/deliverables/{CODE}/progress", headers=auth(tokens.bureau))).json()
        seen = (await client.get(f"{API}/deliverables/{CODE}", headers=auth(tokens.bureau))).json()
    archive = await export_bytes(source)
    counted = {t["name"]: t["rows"] for t in orjson.loads(
        zipfile.ZipFile(io.BytesIO(archive)).read("manifest.json"))["tables"]}
    assert (counted["evidence_files"], counted["progress_reports"], counted["extension_requests"],
            counted["deliverable_edits"], counted["feature_installs"]) == (2, 1, 1, 1, 1)
    path = tmp_path / "store.zip"
    path.write_bytes(archive)
    async with empty_store(backend, tmp_path) as target:
        engine = create_engine(Settings(database_url=target))
        try:
            await import_store(engine, path, trust_unsigned=True)
        finally:
            await engine.dispose()
        assert await export_bytes(target) == archive
        async with served(target) as (_, client):
            for f, content in zip(files, (PDF, BIG), strict=True):
                got = await client.get(f["url"], headers=auth(tokens.bureau))
                assert got.content == content and hashlib.sha256(got.content).hexdigest() == f["sha256"]
            assert (await client.get(f"{API}/deliverables/{CODE}/progress", headers=auth(tokens.bureau))).json() \
                == listed
            assert (await client.get(f"{API}/deliverables/{CODE}", headers=auth(tokens.bureau))).json() == seen
            # The imported store keeps taking uploads: ids continue after the imported ones.
            again = await progress(client, mine, files=[("再次.pdf", PDF)])
            assert again.status_code == 201 and again.json()["files"][0]["id"] == 3, again.text
