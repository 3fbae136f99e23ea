"""The catalog served over HTTP matches the plan."""

import httpx

from tests.conftest import Keys

API = "/api/v1"


async def test_counts_match_the_plan(client: httpx.AsyncClient, keys: Keys) -> None:
    h = keys.auth(keys.bureau)
    actions = (await client.get(f"{API}/actions", headers=h)).json()
    tasks = (await client.get(f"{API}/tasks", headers=h)).json()
    rows = (await client.get(f"{API}/plan-rows", headers=h)).json()
    units = (await client.get(f"{API}/units", headers=h)).json()
    indicators = (await client.get(f"{API}/indicators", headers=h)).json()
    assert len(actions) == 10
    assert [t["number"] for t in tasks] == list(range(1, 35))
    assert len(rows) == 33
    assert len(units) == 11 and units[0]["code"] == "370200"
    assert len(indicators) > 20
    assert sum(len(a["tasks"]) for a in actions) == 34


async def test_both_rows_numbered_15_and_shared_rows(client: httpx.AsyncClient, keys: Keys) -> None:
    rows = (await client.get(f"{API}/plan-rows", headers=keys.auth(keys.bureau))).json()
    fifteen = [r for r in rows if r["number"] == "15"]
    assert len(fifteen) == 2 and all(r["tasks"] == [15] for r in fifteen)
    assert fifteen[0]["problem"] != fifteen[1]["problem"]
    by_number = {r["number"]: r for r in rows}
    assert by_number["1、2"]["tasks"] == [1, 2]
    assert by_number["30、31"]["tasks"] == [30, 31]
    assert by_number["4"]["deadline"] == "2019-11-30"
    assert by_number["5"]["deadline"] is None and by_number["5"]["deadline_text"] == "长期"
    task = (await client.get(f"{API}/tasks/15", headers=keys.auth(keys.bureau))).json()
    assert len(task["plan_row_details"]) == 2


async def test_task_departments_and_lead(client: httpx.AsyncClient, keys: Keys) -> None:
    task = (await client.get(f"{API}/tasks/3", headers=keys.auth(keys.bureau))).json()
    deps = {d["code"]: d for d in (await client.get(f"{API}/departments", headers=keys.auth(keys.bureau))).json()}
    assert deps[task["lead_department"]]["name_zh"] == "教育装备与信息中心"
    assert "t03-campus-network-compliance" in task["indicators"]
    assert task["text"].startswith("实施《青岛市教育信息化2.0行动计划》")


async def test_department_aliases_filter_the_same_tasks(client: httpx.AsyncClient, keys: Keys) -> None:
    h = keys.auth(keys.bureau)

    async def numbers(dept: str) -> list[int]:
        r = await client.get(f"{API}/tasks", params={"department": dept}, headers=h)
        assert r.status_code == 200, r.text
        return [t["number"] for t in r.json()]

    full = await numbers("行政审批与执法处")
    assert full == await numbers("审批执法处") == await numbers("审批处")
    assert 8 in full and 6 in full
    centre = await numbers("装备信息中心")
    assert centre == await numbers("教育装备与信息中心") and 3 in centre and 27 in centre
    ind = await client.get(f"{API}/indicators", params={"department": "装备信息中心"}, headers=h)
    assert "t03-campus-network-compliance" in [i["code"] for i in ind.json()]
    bad = await client.get(f"{API}/tasks", params={"department": "不存在处"}, headers=h)
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")


async def test_tasks_by_action(client: httpx.AsyncClient, keys: Keys) -> None:
    r = await client.get(f"{API}/tasks", params={"action": 7}, headers=keys.auth(keys.bureau))
    assert [t["number"] for t in r.json()] == [22, 23, 24, 25]


async def test_units_and_retired_codes(client: httpx.AsyncClient, keys: Keys) -> None:
    h = keys.auth(keys.bureau)
    huangdao = (await client.get(f"{API}/units/西海岸新区", headers=h)).json()
    assert huangdao["code"] == "370211" and huangdao["parent"] == "370200"
    for old, new in (("370282", "370215"), ("370284", "370211"), ("370205", "370203")):
        r = await client.get(f"{API}/units/{old}", headers=h)
        assert r.status_code == 404
        assert r.json()["current"] == new and new in r.json()["detail"]
    retired = (await client.get(f"{API}/units/retired", headers=h)).json()
    assert {r["code"] for r in retired} == {"370282", "370284", "370205"}


def _target(detail: dict, **match: object) -> dict:
    found = [t for t in detail["targets"] if all(t[k] == v for k, v in match.items())]
    assert len(found) == 1, detail["targets"]
    return found[0]


async def test_spot_checks_against_the_text(client: httpx.AsyncClient, keys: Keys) -> None:
    h = keys.auth(keys.bureau)
    inds = {i["code"]: i for i in (await client.get(f"{API}/indicators", headers=h)).json()}

    async def detail(code: str) -> dict:
        r = await client.get(f"{API}/indicators/{code}", headers=h)
        assert r.status_code == 200, r.text
        return r.json()

    net = await detail("t03-campus-network-compliance")
    assert net["unit"] == "percent" and net["measure"] == "rate"
    _target(net, kind="reach", op=">=", value=98, year=2020, unit="370200")
    sister = next(c for c, i in inds.items() if i["task"] == 9 and "友好学校" in i["name_zh"])
    _target(await detail(sister), kind="reach", value=500, year=2022)
    rural = [c for c, i in inds.items() if i["task"] == 26]
    assert len(rural) == 1 and inds[rural[0]]["unit"] == "yuan" and inds[rural[0]]["measure"] == "flow"
    _target(await detail(rural[0]), kind="every_year", value=30_000_000, year=2022, year_from=2018)
    base = next(c for c, i in inds.items() if i["task"] == 14)
    _target(await detail(base), kind="each_unit", op=">=", value=1, year=2022)
    preschool = next(c for c, i in inds.items() if i["task"] == 22 and "入园率" in i["name_zh"])
    _target(await detail(preschool), kind="every_year", value=99, year=2022)
    classes = next(c for c, i in inds.items() if i["task"] == 23)
    assert inds[classes]["direction"] == "down"
    _target(await detail(classes), kind="reach", op="<=", value=0, year=2020)
    assert (await client.get(f"{API}/indicators/t99-nothing", headers=h)).status_code == 404
