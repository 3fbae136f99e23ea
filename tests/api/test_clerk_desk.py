"""The clerk's desk: 黄岛区 downloads its template, fills it in, uploads it; Chinese CSV headers and names."""

import io
from typing import Any

import httpx
import openpyxl
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.workbook import XLSX
from tests.api.helpers import API, MEASUREMENTS, RATE, STOCK, counts, current, post, tally
from tests.conftest import Keys

TEMPLATES = f"{API}/templates"
ZH = {"Accept-Language": "zh-CN"}


async def template(client: httpx.AsyncClient, token: str, **params: str) -> openpyxl.Workbook:
    r = await client.get(TEMPLATES, params=params, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == XLSX
    assert r.headers["content-disposition"].startswith("attachment; filename=")
    return openpyxl.load_workbook(io.BytesIO(r.content))


def rows_by_code(sheet: Any) -> dict[str, int]:
    return {sheet.cell(r, 1).value: r for r in range(2, sheet.max_row + 1)}


def to_bytes(book: openpyxl.Workbook) -> bytes:
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def test_template_lists_what_huangdao_reports_and_explains_it_in_chinese(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    book = await template(client, keys.huangdao, period="2024")  # the key's own unit by default
    assert book.sheetnames == ["填报", "说明"]
    sheet = book["填报"]
    assert [c.value for c in sheet[1]] == ["指标代码", "指标名称", "计量单位", "单位", "期间", "数值", "分子", "分母",
                                           "备注", "上年数值"]
    where = rows_by_code(sheet)
    assert len(where) == 11  # every district-level indicator of the seeded catalog
    assert "t26-rural-funding" not in where  # reported by the city only
    r = where[RATE]
    assert [sheet.cell(r, c).value for c in range(1, 6)] == [
        RATE, "中小学校在线学习及移动办公校园网络基础建设达标率", "%", "黄岛区", "2024"]
    assert sheet.protection.sheet and sheet.cell(r, 1).protection.locked and not sheet.cell(r, 6).protection.locked
    rules = {str(dv.sqref): (dv.type, dv.operator, dv.formula1, dv.formula2)
             for dv in sheet.data_validations.dataValidation}
    assert any(f"F{r}" in ranges.split() and rule == ("decimal", "between", "0", "100")
               for ranges, rule in rules.items())
    guide = book["说明"]
    text = "\n".join(str(c.value) for row in guide.iter_rows() for c in row if c.value)
    assert "黄岛区（370211）2024" in text and "填写分子和分母" in text and "任务3：" in text
    city = await template(client, keys.admin, unit="青岛市", period="2024Q1")
    assert set(rows_by_code(city["填报"])) == {"t26-rural-funding"}


async def test_a_filled_template_round_trips_with_sheet_row_and_cell_for_each_conflict(
    client: httpx.AsyncClient, keys: Keys, session: AsyncSession
) -> None:
    book = await template(client, keys.huangdao, period="2024")
    sheet = book["填报"]
    where = rows_by_code(sheet)
    sheet.cell(where[RATE], 7, 971)  # 分子
    sheet.cell(where[RATE], 8, 1000)  # 分母
    sheet.cell(where[RATE], 9, "按学校台账统计")
    sheet.cell(where[STOCK], 6, 12)  # 数值
    sheet.cell(where["t22-preschool-enrolment"], 7, "九百")  # a bad value
    # every other row is left blank, as a clerk with nothing to report leaves it
    r = await post(client, keys.huangdao, to_bytes(book), content_type=XLSX, headers=ZH)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["result"] == "partial" and doc["counts"] == tally(created=2, rejected=1)
    [bad] = doc["conflicts"]
    row = where["t22-preschool-enrolment"]
    assert (bad["sheet"], bad["row"], bad["cell"], bad["code"]) == ("填报", row, f"G{row}", "bad_number")
    assert bad["detail"] == "分子“九百”不是数字。"
    stored = {(v["indicator"], v["period"]): v for v in await current(client, keys.admin, unit="370211")}
    assert stored[(RATE, "2024")]["value"] == 97.1 and stored[(RATE, "2024")]["comment"] == "按学校台账统计"
    assert stored[(STOCK, "2024")]["value"] == 12
    assert (await counts(session))["measurements"] == 2
    # next year's template shows this year's values beside, for reference only (not read back)
    nxt = await template(client, keys.huangdao, period="2025")
    s2 = nxt["填报"]
    again = rows_by_code(s2)
    assert s2.cell(again[RATE], 10).value == 97.1 and s2.cell(again[STOCK], 10).value == 12
    s2.cell(again[STOCK], 6, 13)
    r = await post(client, keys.huangdao, to_bytes(nxt), content_type=XLSX)
    assert r.status_code == 200 and r.json()["counts"] == tally(created=1), r.text


async def test_any_first_sheet_with_the_csv_columns_is_read(client: httpx.AsyncClient, keys: Keys) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Sheet1"
    sheet.append(["indicator", "unit", "period", "value", "numerator", "denominator", "comment"])
    sheet.append([STOCK, "西海岸新区", 2023, 9, None, None, None])
    sheet.append([RATE, 370211, "2023", None, 980, 1000, None])
    sheet.append([RATE, "370202", "2022", None, 1, 2, None])  # 市南区: not this key's
    r = await post(client, keys.huangdao, to_bytes(book), content_type=XLSX)
    assert r.status_code == 403, r.text
    sheet.delete_rows(4)
    sheet.append(["t99-nothing", None, "2023", 1, None, None, None])
    r = await post(client, keys.huangdao, to_bytes(book), content_type=XLSX, headers={"Accept-Language": "en"})
    assert r.status_code == 200, r.text
    assert r.json()["counts"] == tally(created=2, rejected=1)
    [c] = r.json()["conflicts"]
    assert (c["sheet"], c["row"], c["cell"], c["code"], c["unit"]) == ("Sheet1", 4, "A4", "unknown_indicator", "370211")


def gbk(text: str) -> bytes:
    return text.encode("gbk")


async def test_gbk_csv_with_chinese_headers_names_and_trailing_commas(
    client: httpx.AsyncClient, keys: Keys, session: AsyncSession
) -> None:
    body = gbk(
        "指标,单位,期间,值,分子,分母,备注,,\r\n"
        "中小学校在线学习及移动办公校园网络基础建设达标率,黄岛区,2024,,971,1000,台账,,\r\n"
        "综合性中小学生实践教育基地数,,2024,12,,,,,\r\n"
        ",,,,,,,,\r\n"
        "学前三年幼儿入园率,西海岸新区,2024,,九百,1000,,,\r\n"
    )
    r = await post(client, keys.huangdao, body, content_type="text/csv; charset=gbk", headers=ZH)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["counts"] == tally(created=2, rejected=1)
    [bad] = doc["conflicts"]
    assert (bad["index"], bad["line"], bad["code"], bad["indicator"]) == (2, 5, "bad_number", "学前三年幼儿入园率")
    assert bad["detail"] == "分子“九百”不是数字。" and "sheet" not in bad
    stored = {(v["indicator"], v["unit"]): v["value"] for v in await current(client, keys.admin, period_from="2024")}
    assert stored == {(RATE, "370211"): 97.1, (STOCK, "370211"): 12}
    # 指标代码 / 区市 / 数值 spellings, and a comment-only header order
    other = gbk("区市,期间,指标代码,数值,计量单位\r\n黄岛区,2023,t14-practice-base,11,个\r\n")
    r = await post(client, keys.huangdao, other, content_type="text/csv; charset=gbk")
    assert r.status_code == 200 and r.json()["counts"] == tally(created=1), r.text


async def test_json_takes_chinese_names_and_the_keys_own_unit(client: httpx.AsyncClient, keys: Keys) -> None:
    body = {"period": "2024", "values": [{"indicator": "综合性中小学生实践教育基地数", "value": 5}]}
    r = await client.post(MEASUREMENTS, json=body, headers={"Authorization": f"Bearer {keys.huangdao}"})
    assert r.status_code == 200 and r.json()["counts"] == tally(created=1), r.text
    assert [(v["indicator"], v["unit"]) for v in await current(client, keys.admin, period_from="2024")] == [
        (STOCK, "370211")]
    # a key that is not bound to a unit has no default: the row says what is missing
    r = await client.post(MEASUREMENTS, json=body, headers={"Authorization": f"Bearer {keys.admin}"})
    assert r.status_code == 422 and r.json()["conflicts"][0]["code"] == "missing_field"


async def test_template_needs_a_unit_for_keys_without_one_and_a_valid_period(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    auth = {"Authorization": f"Bearer {keys.bureau}", **ZH}
    r = await client.get(TEMPLATES, headers=auth)
    assert r.status_code == 422 and r.json()["detail"].startswith("请指定单位")
    r = await client.get(TEMPLATES, params={"unit": "370282", "period": "2024"}, headers=auth)
    assert r.status_code == 422 and "370215" in r.json()["detail"]
    r = await client.get(TEMPLATES, params={"unit": "黄岛区", "period": "2024Q5"}, headers=auth)
    assert r.status_code == 422 and "季度为 Q1 至 Q4" in r.json()["detail"]
    r = await client.get(TEMPLATES, params={"unit": "黄岛区", "period": "1900"}, headers=auth)
    assert r.status_code == 200  # no year before 1900 to show beside it
    r = await client.get(TEMPLATES, params={"unit": "黄岛区"})
    assert r.status_code == 401
