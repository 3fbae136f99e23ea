"""The deliverables catalog against the plan text, counted by hand from Annex 2, as the API serves it."""

from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.seed import seed
from app.settings import SEEDS_DIR
from tests.conftest import Keys

API = "/api/v1"
# The plan text sits beside the repository (../shared), also when the repository is a worktree further down.
SOURCE = next((p / "shared/seeds/000_49a8bf4b45a6b867.txt" for p in Path(__file__).resolve().parents
               if (p / "shared/seeds/000_49a8bf4b45a6b867.txt").exists()), Path("shared/seeds/missing.txt"))

# Items of the policies column per row, counted by hand from Annex 2 (seq: printed 序号, count).
HAND_COUNTS = {
    1: ("1、2", 1),    # one 《…活动方案》
    2: ("3", 1),       # policies column empty: the row itself
    3: ("4", 3),       # 1. 2. 3.
    4: ("5", 3),       # 1. 2．(full-width) 3.
    5: ("6", 3),
    6: ("7", 2),       # "…的通知\n\n》2.《…》": the stray 》 stays with item 1
    7: ("8", 1),
    8: ("9", 1),       # empty
    12: ("13", 2),
    14: ("15", 1),     # the first row printed 15
    15: ("15", 1),     # the second row printed 15
    17: ("17", 2),
    21: ("21", 2),
    30: ("30、31", 1),
    33: ("34", 1),
}
EMPTY_POLICY_ROWS = {2, 8, 16, 18, 20, 25, 27, 28, 29}


def deliverables_yaml() -> list[dict[str, Any]]:
    return list(yaml.safe_load((SEEDS_DIR / "deliverables.yaml").read_text(encoding="utf-8")))


def test_yaml_counts_and_codes() -> None:
    items = deliverables_yaml()
    assert len(items) == 43
    assert {i["row"] for i in items} == set(range(1, 34))
    assert {i["row"] for i in items if i["source"] == "problem"} == EMPTY_POLICY_ROWS
    for i in items:
        assert i["code"] == f"r{i['row']:02d}-{i['n']}"
    for seq, (_, n) in HAND_COUNTS.items():
        assert [i["n"] for i in items if i["row"] == seq] == list(range(1, n + 1)), seq


def test_titles_are_the_printed_items() -> None:
    if not SOURCE.exists():
        pytest.fail(f"plan text missing at {SOURCE}")
    text = "".join(SOURCE.read_text(encoding="utf-8").split())
    for i in deliverables_yaml():
        if i["source"] == "policies":
            # every title is in the text verbatim once whitespace is gone (row 7 breaks a line before 》)
            assert i["title"] in text, i["code"]
            assert not i["title"].endswith(("。", "；")) and not i["title"][0].isdigit(), i["title"]


async def all_items(client: httpx.AsyncClient, keys: Keys, **params: str) -> list[dict[str, Any]]:
    r = await client.get(f"{API}/deliverables", headers=keys.auth(keys.bureau), params=params)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def test_the_api_serves_every_row_as_counted_by_hand(client: httpx.AsyncClient, keys: Keys) -> None:
    items = await all_items(client, keys)
    assert len(items) == 43
    assert sum(1 for i in items if i["source"] == "problem") == 9
    for seq, (number, n) in HAND_COUNTS.items():
        row = [i for i in items if i["row"] == seq]
        assert len(row) == n and {i["row_number"] for i in row} == {number}, seq
        filtered = await all_items(client, keys, row=str(seq))
        assert [i["code"] for i in filtered] == [f"r{seq:02d}-{k}" for k in range(1, n + 1)]
    by_code = {i["code"]: i for i in items}
    assert by_code["r01-1"]["tasks"] == [1, 2] and by_code["r30-1"]["tasks"] == [30, 31]
    assert by_code["r14-1"]["tasks"] == [15] and by_code["r15-1"]["tasks"] == [15]
    assert by_code["r14-1"]["title"] == "《关于评选青岛市中小学生研学旅行基地的通知》"
    assert by_code["r15-1"]["title"] == "《关于进一步加强青岛市中小学生社会课堂建设的意见》"
    assert by_code["r06-1"]["title"] == "《印发〈全面推进“十个一”项目行动工作指南〉的通知》"
    assert by_code["r06-2"]["title"] == "《关于建立“十个一”项目市级专家库等的通知》"
    assert by_code["r04-2"]["title"] == "拟组织《理化生学科教师实验教学比赛活动》"
    assert by_code["r05-3"]["title"] == "《青岛市中小学生学校教育保护办法》"
    assert by_code["r08-1"]["title"] == "进一步扩大人员、机构、项目等方面的国际交流与合作"
    assert by_code["r08-1"]["source"] == "problem"


async def test_deadlines_and_lead_departments(client: httpx.AsyncClient, keys: Keys) -> None:
    by_code = {i["code"]: i for i in await all_items(client, keys)}
    deadlines = {
        "r01-1": "2022-12-31",  # 2022年12月
        "r02-1": "2022-12-31",  # 2022年
        "r03-1": "2019-11-30", "r03-3": "2019-11-30",  # 2019年11月
        "r04-1": None,  # 长期
        "r12-2": "2019-12-31",  # 2019年
        "r27-1": "2020-12-31",  # 2020年
        "r31-1": "2022-12-31",  # 2022年底
        "r32-1": "2018-12-31",  # 2018年底完成方案
        "r33-1": "2019-12-31",  # 长期（2019年12月完成初步工作）
    }
    assert {c: by_code[c]["deadline"] for c in deadlines} == deadlines
    assert by_code["r33-1"]["deadline_text"] == "长期（2019年12月完成初步工作）"
    assert sum(1 for i in by_code.values() if i["deadline"] is None) == 26
    departments = {
        "r01-1": ["jijiao"],  # 基教处、相关处室
        "r02-1": ["zhuangbei-xinxi", "jiaokeyuan"],  # 装备信息中心 is an alias
        "r08-1": ["guoji", "jijiao", "zhijiao", "jicai", "renshi", "zuzhi", "jiaokeyuan"],
        "r13-1": ["jijiao", "sizheng", "jiaokeyuan", "renshi"],  # 基教处思政处、教科院人事处
        "r16-1": ["sizheng", "jijiao", "tiweiyi", "jiaokeyuan"],  # 思政处、、基教处
        "r22-1": ["jijiao", "shenpi-zhifa", "dudao", "renshi", "jicai", "jiaokeyuan", "jijian"],  # 审批处
        "r33-1": ["jiating-jiaoyu", "jiaokeyuan"],  # 家庭教育处（筹）
    }
    assert {c: by_code[c]["departments"] for c in departments} == departments
    assert by_code["r22-1"]["lead_department"] == "jijiao"


async def test_reseeding_keeps_reports(client: httpx.AsyncClient, keys: Keys, session: AsyncSession) -> None:
    r = await client.put(f"{API}/deliverables/r03-1/report", headers=keys.auth(keys.admin),
                         json={"state": "done", "done_on": "2019-11-20", "document_no": "青教发〔2019〕12号"})
    assert r.status_code == 200, r.text
    async with session.begin():
        report = await seed(session, SEEDS_DIR)
    assert report.total == 0, report.inserted
    (item,) = await all_items(client, keys, row="3", status="done_on_time")
    assert item["code"] == "r03-1" and item["report"]["document_no"] == "青教发〔2019〕12号"
    assert date.fromisoformat(item["report"]["done_on"]) == date(2019, 11, 20)
