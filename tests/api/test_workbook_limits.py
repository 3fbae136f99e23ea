"""A workbook is read in a child process with a time and a memory limit: past either, a clear 4xx, nothing stored,
and the rest of the service (here /healthz) answers meanwhile; the next upload finds a fresh worker."""

import asyncio
import io
import time
import zipfile
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.workbook import XLSX
from app.settings import Settings
from tests.api.helpers import assert_problem, counts, post
from tests.api.test_clerk_hostile import plain_book, repack
from tests.conftest import Keys


@pytest.fixture
def settings(database_url: str, request: pytest.FixtureRequest) -> Settings:
    limits: dict[str, Any] = getattr(request, "param", {})
    return Settings(database_url=database_url, metrics_public=False, **limits)


def nested_runs(depth: int) -> bytes:
    """A small workbook (deflate loves repetition) with one cell of `depth` nested <r> runs: seconds of XML."""
    good = plain_book(1)
    with zipfile.ZipFile(io.BytesIO(good)) as z:
        sheet = z.read("xl/worksheets/sheet1.xml")
    cell = b'<c r="F2" t="inlineStr"><is>' + b"<r>" * depth + b"</r>" * depth + b"</is></c>"
    return repack(good, replace={"xl/worksheets/sheet1.xml": sheet.replace(b"</row></sheetData>",
                                                                           cell + b"</row></sheetData>", 1)})


def many_shared_strings(count: int) -> bytes:
    """A workbook whose shared-string table holds `count` strings: a few MB sent, hundreds of MB once read."""
    good = plain_book(1)
    with zipfile.ZipFile(io.BytesIO(good)) as z:
        types, rels = z.read("[Content_Types].xml"), z.read("xl/_rels/workbook.xml.rels")
    types = types.replace(b"</Types>", b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.'
                          b'openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>')
    rels = rels.replace(b"</Relationships>", b'<Relationship Id="rIdStrings" Type="http://schemas.openxmlformats.org/'
                        b'officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'
                        b"</Relationships>")
    strings = b"".join(b"<si><t>%d</t></si>" % i for i in range(count))
    table = b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">' + strings + b"</sst>"
    return repack(good, replace={"[Content_Types].xml": types, "xl/_rels/workbook.xml.rels": rels},
                  add={"xl/sharedStrings.xml": table})


@pytest.mark.parametrize("settings", [{"xlsx_parse_seconds": 0.5}], indirect=True)
async def test_a_workbook_that_parses_too_long_is_stopped_and_the_service_answers_meanwhile(
    client: httpx.AsyncClient, keys: Keys, session: AsyncSession
) -> None:
    slow = nested_runs(1_000_000)
    assert len(slow) < 64 << 10
    before = await counts(session)
    warm = await post(client, keys.huangdao, plain_book(1), content_type=XLSX, dry_run=True)
    assert warm.status_code == 200, warm.text

    async def probe() -> float:
        await asyncio.sleep(0.2)  # the upload is being read by now
        started = time.perf_counter()
        assert (await client.get("/healthz")).status_code == 200
        return time.perf_counter() - started

    started = time.perf_counter()
    answer, waited = await asyncio.gather(post(client, keys.huangdao, slow, content_type=XLSX), probe())
    took = time.perf_counter() - started
    doc = assert_problem(answer, 422)
    assert doc["code"] == "workbook_too_slow" and "0.5 s" in doc["detail"], doc
    assert took < 2.5, took  # stopped at the limit, not when the parse would have ended
    assert waited < 0.3, waited  # the event loop was free all along
    zh = await post(client, keys.huangdao, slow, content_type=XLSX, headers={"Accept-Language": "zh"})
    assert assert_problem(zh, 422)["detail"].startswith("工作簿")
    assert await counts(session) == before
    again = await post(client, keys.huangdao, plain_book(3), content_type=XLSX)
    assert again.status_code == 200 and again.json()["counts"]["created"] == 3, again.text


@pytest.mark.parametrize("settings", [{"xlsx_parse_memory_bytes": 48 << 20, "xlsx_parse_seconds": 60}],
                         indirect=True)
async def test_a_workbook_that_needs_too_much_memory_is_413(
    client: httpx.AsyncClient, keys: Keys, session: AsyncSession
) -> None:
    big = many_shared_strings(400_000)
    before = await counts(session)
    doc = assert_problem(await post(client, keys.huangdao, big, content_type=XLSX), 413)
    assert doc["code"] == "workbook_too_large" and "48 MiB" in doc["detail"], doc
    assert await counts(session) == before
    again = await post(client, keys.huangdao, plain_book(2), content_type=XLSX)
    assert again.status_code == 200 and again.json()["counts"]["created"] == 2, again.text
