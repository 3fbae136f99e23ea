"""Hostile workbooks: a zip bomb, a corrupt or encrypted file, macros, too many rows — a clear 4xx, nothing stored."""

import io
import tracemalloc
import zipfile

import httpx
import openpyxl
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.workbook import XLSM, XLSX
from tests.api.helpers import RATE, assert_problem, counts, post
from tests.conftest import Keys


def plain_book(rows: int = 1) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["indicator", "unit", "period", "numerator", "denominator"])
    for i in range(rows):
        sheet.append([RATE, "370211", str(2000 + i % 20), 971, 1000])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def repack(source: bytes, *, replace: dict[str, bytes | None] | None = None, add: dict[str, bytes] | None = None,
           huge: tuple[str, int] | None = None) -> bytes:
    """A copy of an xlsx with members replaced, added, or one member streamed in as `size` bytes of rows."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(source)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if huge and info.filename == huge[0]:
                continue
            data = (replace or {}).get(info.filename, src.read(info.filename))
            if data is not None:
                dst.writestr(info.filename, data)
        for name, data in (add or {}).items():
            dst.writestr(name, data)
        if huge:
            name, size = huge
            row = b'<row><c t="inlineStr"><is><t>x</t></is></c></row>' * 1000
            with dst.open(name, "w", force_zip64=True) as fh:
                fh.write(b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/'
                         b'spreadsheetml/2006/main"><sheetData>')
                for _ in range(size // len(row)):
                    fh.write(row)
                fh.write(b"</sheetData></worksheet>")
    return out.getvalue()


async def test_a_zip_bomb_is_413_without_being_inflated(
    client: httpx.AsyncClient, keys: Keys, session: AsyncSession
) -> None:
    bomb = repack(plain_book(), huge=("xl/worksheets/sheet1.xml", 400 << 20))
    assert len(bomb) < 2 << 20  # under the 5 MiB body limit: only the inflated size can stop it
    before = await counts(session)
    tracemalloc.start()
    try:
        r = await post(client, keys.huangdao, bomb, content_type=XLSX)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    doc = assert_problem(r, 413)
    assert "inflates to" in doc["detail"]
    assert peak < 40 << 20, peak  # the 400 MiB sheet was never held (the request body itself is ~1 MiB)
    assert await counts(session) == before


async def test_corrupt_encrypted_and_macro_enabled_workbooks_are_refused(
    client: httpx.AsyncClient, keys: Keys, session: AsyncSession
) -> None:
    good = plain_book()
    before = await counts(session)
    cases = [
        (b"PK\x03\x04" + b"\x00garbage" * 100, 400, "damaged"),
        (good[: len(good) // 2], 400, "damaged"),
        (repack(good, replace={"xl/workbook.xml": b"<not-xml"}), 400, "cannot be read"),
        (repack(good, replace={"xl/workbook.xml": None}), 400, "cannot be read"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 4096, 400, "password-protected"),
        (repack(good, add={"xl/vbaProject.bin": b"\x00" * 64}), 415, "macros"),
    ]
    for body, status, words in cases:
        doc = assert_problem(await post(client, keys.huangdao, body, content_type=XLSX), status)
        assert words in doc["detail"], doc
    doc = assert_problem(await post(client, keys.huangdao, good, content_type=XLSM), 415)
    assert ".xlsm" in doc["detail"]
    zh = await post(client, keys.huangdao, b"PK\x03\x04", content_type=XLSX, headers={"Accept-Language": "zh"})
    assert assert_problem(zh, 400)["detail"].startswith("工作簿已损坏")
    assert await counts(session) == before


async def test_more_than_ten_thousand_rows_is_refused_whole(
    client: httpx.AsyncClient, keys: Keys, session: AsyncSession
) -> None:
    before = await counts(session)
    doc = assert_problem(await post(client, keys.huangdao, plain_book(10_001), content_type=XLSX), 413)
    assert "10000" in doc["detail"]
    assert await counts(session) == before
    r = await post(client, keys.huangdao, plain_book(20), content_type=XLSX, dry_run=True)
    assert r.status_code == 200 and r.json()["counts"]["created"] == 20, r.text
