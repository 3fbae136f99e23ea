"""Checks of the checked-in catalog (seeds/*.yaml) against its schema and the plan text."""

import calendar
import datetime as dt
import re
from collections import Counter
from functools import cache
from pathlib import Path

import pytest
import yaml

SEEDS = Path(__file__).resolve().parents[1] / "seeds"
SOURCE = Path(__file__).resolve().parents[2] / "shared/seeds/000_49a8bf4b45a6b867.txt"

KINDS = {"reach", "every_year", "each_unit"}
OPS = {">=", "<="}
MEASURES = {"rate", "stock", "flow"}
LEVELS = {"district", "city"}
FREQUENCIES = {"month", "quarter", "semester", "year"}
DIRECTIONS = {"up", "down"}
CITY = "370200"

# Every task has a row in Annex 2 (31 shares the row "30、31"), so none is missing.
TASKS_WITHOUT_ROW: set[int] = set()


@cache
def load(name: str):
    return yaml.safe_load((SEEDS / name).read_text(encoding="utf-8"))


@cache
def source_text() -> str:
    if not SOURCE.exists():
        pytest.skip(f"plan text not available at {SOURCE}")
    return SOURCE.read_text(encoding="utf-8")


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def parse_deadline(text: str) -> dt.date | None:
    """The catalog's deadline rule: 长期… → None; YYYY年M月 → month end; YYYY年, YYYY年底… → Dec 31."""
    if text.startswith("长期"):
        return None
    if m := re.fullmatch(r"(\d{4})年(\d{1,2})月", text):
        year, month = int(m[1]), int(m[2])
        return dt.date(year, month, calendar.monthrange(year, month)[1])
    if m := re.match(r"(\d{4})年(底|$)", text):
        return dt.date(int(m[1]), 12, 31)
    raise ValueError(f"unparseable deadline {text!r}")


def dept_codes() -> set[str]:
    return {d["code"] for d in load("departments.yaml")}


def dept_names() -> dict[str, str]:
    names = {}
    for d in load("departments.yaml"):
        for name in [d["name_zh"], *d["aliases"]]:
            assert name not in names, f"{name} names two departments"
            names[name] = d["code"]
    return names


def indicators() -> dict[str, dict]:
    return {i["code"]: i for i in load("indicators.yaml")}


def only_target(code: str) -> dict:
    (target,) = indicators()[code]["targets"]
    return target


# --- actions, departments, tasks ---------------------------------------------------------------


def test_ten_actions():
    actions = load("actions.yaml")
    assert [a["number"] for a in actions] == list(range(1, 11))
    assert all(a["title_zh"] and a["title_en"] for a in actions)
    assert actions[0]["title_zh"] == "开展教育理念大讨论"
    assert actions[1]["title_zh"] == "加快基础教育现代化建设"


def test_departments_and_aliases():
    departments = load("departments.yaml")
    codes = [d["code"] for d in departments]
    assert len(codes) == len(set(codes))
    assert all(re.fullmatch(r"[a-z][a-z0-9-]*", c) for c in codes)
    names = dept_names()
    assert names["装备信息中心"] == names["教育装备与信息中心"]
    assert names["审批执法处"] == names["审批处"] == names["行政审批与执法处"]
    assert names["家庭教育处"] == names["家庭教育处（筹）"]
    canonical = {d["code"]: d["name_zh"] for d in departments}
    assert canonical[names["家庭教育处"]] == "家庭教育处（筹）"
    assert canonical[names["审批处"]] == "行政审批与执法处"
    assert "相关处室" not in names


def test_34_tasks_with_known_departments():
    tasks = load("tasks.yaml")
    assert [t["number"] for t in tasks] == list(range(1, 35))
    codes = dept_codes()
    for t in tasks:
        assert t["departments"], t["number"]
        assert set(t["departments"]) <= codes, t["number"]
        assert len(t["departments"]) == len(set(t["departments"]))
        assert not re.match(r"^\d+\s*\.", t["text"]) and "责任处室" not in t["text"]
    action_of = {t["number"]: t["action"] for t in tasks}
    first_task = {1: 1, 2: 3, 3: 10, 4: 14, 5: 16, 6: 19, 7: 22, 8: 26, 9: 30, 10: 34}
    for action, first in first_task.items():
        assert action_of[first] == action
    assert [action_of[n] for n in range(1, 35)] == sorted(action_of.values())
    assert action_of[9] == 2 and action_of[33] == 9
    by_number = {t["number"]: t for t in tasks}
    assert by_number[1]["departments"][0] == "jijiao"
    assert by_number[17]["departments"] == ["sizheng", "jijiao", "jiaokeyuan"]
    assert by_number[19]["departments"][-1] == "jiating-jiaoyu"


def test_task_texts_and_departments_match_source():
    text = source_text()
    names = dept_names()
    for t in load("tasks.yaml"):
        m = re.search(
            rf"^{t['number']}\.\s*{re.escape(t['text'])}\s*（(?:责任处室：)?(.+)）\s*$", text, re.MULTILINE
        )
        assert m, f"task {t['number']} text not found verbatim"
        assert [names[n] for n in m[1].split("、")] == t["departments"], t["number"]


# --- plan rows -----------------------------------------------------------------------------------


def test_33_plan_rows_in_order():
    rows = load("plan_rows.yaml")
    assert [r["seq"] for r in rows] == list(range(1, 34))
    numbers = [r["number"] for r in rows]
    assert Counter(numbers)["15"] == 2
    assert len(set(numbers)) == 32
    by_number = {r["number"]: r for r in rows}
    assert by_number["1、2"]["tasks"] == [1, 2]
    assert by_number["30、31"]["tasks"] == [30, 31]
    assert all(r["tasks"] == [15] for r in rows if r["number"] == "15")
    for r in rows:
        assert r["tasks"] == [int(n) for n in r["number"].split("、")]
        for key in (
            "problem",
            "policies",
            "measures",
            "expected_effect",
            "deadline_text",
            "departments_text",
        ):
            assert isinstance(r[key], str), (r["seq"], key)
        assert r["problem"] and r["measures"] and r["expected_effect"]
        assert "\n" not in r["departments_text"]


def test_every_task_has_a_row_except_the_missing_ones():
    covered = {n for r in load("plan_rows.yaml") for n in r["tasks"]}
    assert covered <= set(range(1, 35))
    assert set(range(1, 35)) - covered == TASKS_WITHOUT_ROW


def test_deadlines_parsed_by_the_rules():
    rows = load("plan_rows.yaml")
    for r in rows:
        assert r["deadline"] == parse_deadline(r["deadline_text"]), r["seq"]
    by_text = {r["deadline_text"]: r["deadline"] for r in rows}
    assert by_text["2019年11月"] == dt.date(2019, 11, 30)
    assert by_text["2022年12月"] == dt.date(2022, 12, 31)
    assert by_text["2019年"] == dt.date(2019, 12, 31)
    assert by_text["2022年"] == dt.date(2022, 12, 31)
    assert by_text["2022年底"] == dt.date(2022, 12, 31)
    assert by_text["2018年底完成方案"] == dt.date(2018, 12, 31)
    assert by_text["长期"] is None
    assert by_text["长期（2019年12月完成初步工作）"] is None


def test_row_departments_resolve_the_printed_cell():
    names = dept_names()
    rows = load("plan_rows.yaml")
    for r in rows:
        assert r["departments"] and set(r["departments"]) <= dept_codes(), r["seq"]
        # The cell may glue two names without a separator (基教处思政处) or repeat one (、、).
        resolved, rest = [], r["departments_text"].replace("、", "")
        while rest:
            name = max((n for n in [*names, "相关处室"] if rest.startswith(n)), key=len)
            if name != "相关处室":
                resolved.append(names[name])
            rest = rest[len(name) :]
        assert resolved == r["departments"], r["seq"]
    assert rows[0]["departments"] == ["jijiao"]
    assert rows[0]["departments_text"] == "基教处、相关处室"
    row14 = next(r for r in rows if r["number"] == "14")
    assert row14["departments"] == ["jijiao", "sizheng", "jiaokeyuan", "renshi"]


def test_plan_rows_match_source():
    text = squash(source_text())
    for r in load("plan_rows.yaml"):
        for key in (
            "problem",
            "policies",
            "measures",
            "expected_effect",
            "deadline_text",
            "departments_text",
        ):
            assert squash(r[key]) in text, (r["seq"], key)


# --- units ---------------------------------------------------------------------------------------


def test_units_and_retired_codes():
    data = load("units.yaml")
    units = {u["code"]: u for u in data["units"]}
    assert len(units) == 11
    assert all(isinstance(c, str) and re.fullmatch(r"\d{6}", c) for c in units)
    assert units[CITY]["parent"] is None and units[CITY]["level"] == "city"
    districts = {c for c, u in units.items() if c != CITY}
    assert all(units[c]["parent"] == CITY and units[c]["level"] == "district" for c in districts)
    assert {
        "370202",
        "370203",
        "370211",
        "370212",
        "370213",
        "370214",
        "370215",
        "370281",
        "370283",
        "370285",
    } == districts
    assert "西海岸新区" in units["370211"]["aliases"]
    retired = {r["code"]: r["current"] for r in data["retired"]}
    assert retired == {"370282": "370215", "370284": "370211", "370205": "370203"}
    assert not set(retired) & set(units)
    assert set(retired.values()) <= districts


# --- indicators and targets ----------------------------------------------------------------------


def test_indicator_schema():
    items = load("indicators.yaml")
    assert len(items) > 20
    codes = [i["code"] for i in items]
    assert len(codes) == len(set(codes))
    tasks = {t["number"] for t in load("tasks.yaml")}
    units = {u["code"] for u in load("units.yaml")["units"]}
    for i in items:
        code = i["code"]
        assert re.fullmatch(r"t\d{2}-[a-z0-9-]+", code), code
        assert i["task"] in tasks and code.startswith(f"t{i['task']:02d}-"), code
        assert i["name_zh"] and i["name_en"], code
        assert i["measure"] in MEASURES and i["direction"] in DIRECTIONS, code
        assert i["level"] in LEVELS and i["frequency"] in FREQUENCIES, code
        assert i["unit"] == "percent" or re.fullmatch(r"[a-z][a-z-]*", i["unit"]), code
        assert i["min"] == 0 and i["max"] > i["min"], code
        if i["unit"] == "percent":
            assert i["measure"] == "rate", code
            assert i["max"] == 100 or (i["max"] == 200 and "入" in i["name_zh"]), code
        assert i["targets"], code
        for t in i["targets"]:
            assert t["kind"] in KINDS and t["op"] in OPS, code
            assert t["unit"] in units, code
            assert i["min"] <= t["value"] <= i["max"], code
            assert (t["op"] == "<=") == (i["direction"] == "down"), code
            assert t["year"] is None or 2018 <= t["year"] <= 2030, code
            if t["year_from"] is not None:
                assert t["kind"] == "every_year" and t["year_from"] <= t["year"], code
            if t["kind"] == "each_unit":
                assert i["level"] == "district" and t["unit"] == CITY, code
            if t["baseline"] is not None:
                assert set(t["baseline"]) == {"value", "year"}, code


def test_targets_unique_per_indicator_unit_kind_year():
    keys = [
        (i["code"], t["unit"], t["kind"], t["year"]) for i in load("indicators.yaml") for t in i["targets"]
    ]
    assert len(keys) == len(set(keys))


def test_indicator_sources_are_verbatim():
    text = squash(source_text())
    for i in load("indicators.yaml"):
        assert squash(i["source"]) in text, i["code"]


def test_spot_checks():
    inds = indicators()
    net = only_target("t03-campus-network-compliance")
    assert (net["kind"], net["op"], net["value"], net["year"]) == ("reach", ">=", 98, 2020)
    assert inds["t03-campus-network-compliance"]["measure"] == "rate"

    sister = only_target("t09-sister-schools")
    assert (sister["kind"], sister["value"], sister["year"]) == ("reach", 500, 2022)

    students = only_target("t09-foreign-students")
    assert (students["value"], students["year"]) == (10000, 2022)
    assert inds["t09-foreign-students"]["unit"] == "person-time"
    assert inds["t09-foreign-students"]["measure"] == "stock"

    fund = inds["t26-rural-funding"]
    assert (fund["unit"], fund["measure"], fund["level"], fund["frequency"]) == (
        "yuan",
        "flow",
        "city",
        "quarter",
    )
    (ft,) = fund["targets"]
    assert (ft["kind"], ft["op"], ft["value"], ft["year_from"], ft["year"]) == (
        "every_year",
        ">=",
        30000000,
        2018,
        2022,
    )

    base = inds["t14-practice-base"]
    assert (base["level"], base["measure"]) == ("district", "stock")
    (bt,) = base["targets"]
    assert (bt["kind"], bt["op"], bt["value"], bt["year"], bt["unit"]) == ("each_unit", ">=", 1, 2022, CITY)

    pre = only_target("t22-preschool-enrolment")
    assert (pre["kind"], pre["op"], pre["value"], pre["year_from"], pre["year"]) == (
        "every_year",
        ">=",
        99,
        None,
        2022,
    )

    big = inds["t23-oversized-classes"]
    assert (big["unit"], big["measure"], big["direction"], big["level"]) == (
        "class",
        "stock",
        "down",
        "district",
    )
    (gt,) = big["targets"]
    assert (gt["kind"], gt["op"], gt["value"], gt["year"]) == ("reach", "<=", 0, 2020)

    ger = inds["t30-senior-secondary-gross-enrolment"]
    assert (ger["max"], only_target(ger["code"])["value"], only_target(ger["code"])["year"]) == (
        200,
        99,
        2020,
    )

    assert only_target("t25-care-room-completion")["year"] is None
