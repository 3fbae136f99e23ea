"""Exports for people: Chinese CSV throughout (statuses, kinds, 是/否, names, rounded numbers), CSV on the value
and indicator lists, and no export that a spreadsheet would run as a formula."""

import csv
import io
from typing import Any

import httpx
import openpyxl
import pytest

from tests.api.attainment_helpers import NETWORK, load_network_example
from tests.api.helpers import API, MEASUREMENTS, post
from tests.conftest import Keys

BOM = b"\xef\xbb\xbf"
FORMULA = ("=", "+", "-", "@", "\t", "\r")


def table(r: httpx.Response) -> list[list[str]]:
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv") and r.content.startswith(BOM)
    return list(csv.reader(io.StringIO(r.content[len(BOM):].decode("utf-8"), newline="")))


def column(rows: list[list[str]], name: str) -> list[str]:
    i = rows[0].index(name)
    return [line[i] for line in rows[1:]]


async def test_chinese_attainment_csv_is_chinese_throughout_and_json_keeps_full_precision(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    await load_network_example(client, keys)
    h = {**keys.auth(keys.bureau), "Accept": "text/csv"}
    zh = table(await client.get(f"{API}/attainment", params={"date": "2020-03-01", "lang": "zh"}, headers=h))
    head = zh[0]
    city = next(line for line in zh[1:] if line[0] == NETWORK and line[head.index("单位代码")] == "370200")
    assert city[head.index("状态")] == "按计划推进"
    assert city[head.index("目标类型")] == "目标年达到"
    assert city[head.index("继承")] == "否"
    assert city[head.index("单位")] == "青岛市"
    assert city[head.index("责任处室")] == "教育装备与信息中心、教科院"
    assert city[head.index("实际值")] == "94.55"  # 1040/1100 = 94.5454…%, rounded for display
    doc = (await client.get(f"{API}/attainment", params={"date": "2020-03-01", "indicator": NETWORK, "unit": "370200"},
                            headers=keys.auth(keys.bureau))).json()
    assert doc["rows"][0]["actual"]["value"] == pytest.approx(1040 / 1100 * 100, abs=1e-12)
    en = table(await client.get(f"{API}/attainment", params={"date": "2020-03-01"}, headers=h))
    assert float(column(en, "actual")[[r[0] for r in en[1:]].index(NETWORK)]) != 94.55  # English keeps precision
    summary = table(await client.get(f"{API}/attainment/summary", params={"date": "2021-03-01", "lang": "zh"},
                                      headers=h))
    assert summary[0] == ["分组", "代码", "名称", "合计", "未达成", "进度滞后", "无数据", "数据不足", "存在风险",
                          "按计划推进", "已达成"]
    assert summary[1][:3] == ["全部", "全部", "全部"] and {r[0] for r in summary[1:]} == {"全部", "行动", "处室"}


async def test_values_and_indicators_answer_accept_text_csv(client: httpx.AsyncClient, keys: Keys) -> None:
    await load_network_example(client, keys)
    h = {**keys.auth(keys.bureau), "Accept": "text/csv"}
    en = table(await client.get(MEASUREMENTS, params={"indicator": NETWORK}, headers=h))
    assert en[0] == ["indicator", "indicator_name", "unit", "unit_name", "period", "period_type", "value",
                     "numerator", "denominator", "comment", "recorded_at"]
    assert [(r[2], r[4], r[6]) for r in en[1:]] == [("370202", "2018", "80.0"), ("370202", "2019", "90.0"),
                                                    ("370211", "2018", "90.0"), ("370211", "2019", "95.0")]
    zh = table(await client.get(MEASUREMENTS, params={"indicator": NETWORK, "lang": "zh", "limit": "3"}, headers=h))
    assert zh[0][:6] == ["指标代码", "指标名称", "单位代码", "单位", "期间", "期间类型"]
    assert zh[1][1] == "中小学校在线学习及移动办公校园网络基础建设达标率" and zh[1][3] == "市南区" and zh[1][5] == "年"
    assert len(zh) == 4
    nxt = await client.get(MEASUREMENTS, params={"indicator": NETWORK, "lang": "zh", "limit": "3"}, headers=h)
    assert 'rel="next"' in nxt.headers["link"] and "cursor=" in nxt.headers["link"]
    inds = table(await client.get(f"{API}/indicators", params={"lang": "zh", "task": "3"}, headers=h))
    assert inds[0][:4] == ["指标代码", "指标名称", "任务", "行动"]
    row = dict(zip(inds[0], inds[1], strict=True))
    assert (row["计量单位"], row["类型"], row["方向"], row["填报层级"], row["填报频率"], row["责任处室"]) == (
        "%", "比率", "越高越好", "区市", "按年", "教育装备与信息中心、教科院")
    as_json = await client.get(f"{API}/indicators", params={"task": "3"}, headers=keys.auth(keys.bureau))
    assert as_json.headers["content-type"] == "application/json" and as_json.json()[0]["measure"] == "rate"


EVIL_NAME = "=cmd|' /C calc'!A0"


async def _plant(client: httpx.AsyncClient, keys: Keys) -> None:
    admin = keys.auth(keys.admin)
    r = await client.post(f"{API}/indicators", headers=admin, json={
        "code": "t03-evil", "task": 3, "name_zh": EVIL_NAME, "name_en": "+SUM(A1:A9)", "unit": "school",
        "measure": "stock", "source": "@HYPERLINK(\"http://x\")", "min": 0, "max": 1000})
    assert r.status_code == 201, r.text
    r = await client.post(f"{API}/indicators/t03-evil/targets", headers=admin,
                          json={"value": 10, "year": 2020, "note": "-1+1"})
    assert r.status_code == 201, r.text
    rows = [{"indicator": "t03-evil", "value": 5, "comment": c} for c in ("-2+3", "\t=1+1")]
    for period, row in zip(("2019", "2020"), rows, strict=True):
        r = await post(client, keys.huangdao, {"unit": "370211", "period": period, "values": [row]})
        assert r.status_code == 200, r.text


def _live(cells: list[str]) -> list[str]:
    """Cells a spreadsheet would run as a formula (negative numbers are numbers, not formulas)."""
    def number(text: str) -> bool:
        try:
            float(text)
            return True
        except ValueError:
            return False
    return [c for c in cells if c.startswith(FORMULA) and not number(c)]


async def test_formula_cells_are_neutralised_in_every_export(client: httpx.AsyncClient, keys: Keys) -> None:
    await _plant(client, keys)
    h = {**keys.auth(keys.bureau), "Accept": "text/csv"}
    exports: dict[str, list[list[str]]] = {}
    for lang in ("en", "zh"):
        for name, url, params in (("attainment", f"{API}/attainment", {"date": "2021-03-01"}),
                                  ("summary", f"{API}/attainment/summary", {"date": "2021-03-01"}),
                                  ("values", MEASUREMENTS, {"indicator": "t03-evil"}),
                                  ("indicators", f"{API}/indicators", {"task": "3"})):
            exports[f"{name}-{lang}"] = table(await client.get(url, params={**params, "lang": lang}, headers=h))
    for name, rows in exports.items():
        cells = [c for line in rows for c in line]
        assert _live(cells) == [], name
    every = {c for rows in exports.values() for line in rows for c in line}
    # the tab of "\t=1+1" is stripped on the way in (comments are trimmed); the = is what remains to neutralise
    assert {"'" + EVIL_NAME, "'+SUM(A1:A9)", "'@HYPERLINK(\"http://x\")", "'-2+3", "'=1+1"} <= every
    r = await client.get(f"{API}/templates", params={"unit": "黄岛区", "period": "2021"}, headers=keys.auth(keys.admin))
    book = openpyxl.load_workbook(io.BytesIO(r.content))
    cells: list[Any] = [c.value for ws in book.worksheets for row in ws.iter_rows() for c in row]
    text = [c for c in cells if isinstance(c, str)]
    assert _live(text) == [] and "'" + EVIL_NAME in text
