"""The department scorecard over HTTP: counts from the store, weights published and revisioned, CSV and xlsx."""

import io
from datetime import date

import httpx
import openpyxl
import pytest

from tests.api.deliverable_helpers import put_report
from tests.api.instruction_helpers import API, auth, department_key, frozen_day, leader_key, make_instruction
from tests.api.supervision_helpers import decide, extend, patch, progress
from tests.conftest import Keys

URL = f"{API}/departments/scorecard"
ONLY_INSTRUCTIONS = {"on_time": 0, "progress": 0, "instructions": 1, "targets": 0}


def _by_dept(body: dict) -> dict[str, dict]:
    return {i["department"]: i for i in body["items"]}


async def test_who_may_read_and_weigh(client: httpx.AsyncClient, keys: Keys, app_ctx: object) -> None:
    leader, dept = await leader_key(app_ctx), await department_key(app_ctx, "jijiao")
    for token in (keys.admin, keys.bureau, keys.huangdao, keys.reviewer, leader, dept):
        assert (await client.get(URL, headers=auth(token))).status_code == 200
    assert (await client.get(URL, headers=auth(keys.scraper))).status_code == 403
    for token in (keys.bureau, keys.huangdao, keys.reviewer, leader, dept):
        r = await client.put(f"{URL}/weights", headers=auth(token), json=ONLY_INSTRUCTIONS)
        assert (r.status_code, r.json()["code"]) == (403, "role_cannot_weigh"), r.text
    r = await client.put(f"{URL}/weights", headers=auth(keys.admin), json=ONLY_INSTRUCTIONS)
    assert r.status_code == 200 and r.json()["instructions"] == 1


@pytest.mark.parametrize("body,code", [
    ({"on_time": -1, "progress": 20, "instructions": 20, "targets": 20}, "negative_weight"),
    ({"on_time": 0, "progress": 0, "instructions": 0, "targets": 0}, "weights_all_zero"),
    ({"on_time": 1e9, "progress": 0, "instructions": 0, "targets": 0}, "weight_too_large"),
])
async def test_bad_weights_change_nothing(client: httpx.AsyncClient, keys: Keys, body: dict, code: str) -> None:
    r = await client.put(f"{URL}/weights", headers=auth(keys.admin), json=body)
    assert (r.status_code, r.json()["code"]) == (422, code)
    for bad in ({**body, "on_time": True}, {"on_time": 1}, {**ONLY_INSTRUCTIONS, "extra": 1}):
        assert (await client.put(f"{URL}/weights", headers=auth(keys.admin), json=bad)).status_code == 422
    got = (await client.get(f"{URL}/weights", headers=auth(keys.admin))).json()
    assert got["history"] == [] and got["current"] == {"on_time": 40, "progress": 20, "instructions": 20,
                                                       "targets": 20}


async def test_weights_are_revisioned_and_a_past_as_of_uses_those_then(client: httpx.AsyncClient,
                                                                        keys: Keys) -> None:
    with frozen_day(date(2026, 3, 1)):
        await client.put(f"{URL}/weights", headers=auth(keys.admin), json=ONLY_INSTRUCTIONS)
    with frozen_day(date(2026, 3, 5)):
        await client.put(f"{URL}/weights", headers=auth(keys.admin),
                         json={"on_time": 50, "progress": 10, "instructions": 30, "targets": 10})
        got = (await client.get(f"{URL}/weights", headers=auth(keys.bureau))).json()
        assert [h["instructions"] for h in got["history"]] == [1, 30] and got["current"]["on_time"] == 50
        assert {h["key_name"] for h in got["history"]} == {"test admin"}
        then = (await client.get(URL, headers=auth(keys.bureau), params={"as_of": "2026-03-02"})).json()
        before = (await client.get(URL, headers=auth(keys.bureau), params={"as_of": "2026-02-27"})).json()
    assert then["weights"]["instructions"] == 1 and then["weights"]["on_time"] == 0
    assert before["weights"]["on_time"] == 40
    assert "Σ" in then["formula"]


async def test_instructions_answered_in_time_rank_the_departments(client: httpx.AsyncClient, keys: Keys,
                                                                  app_ctx: object) -> None:
    leader, jijiao = await leader_key(app_ctx), await department_key(app_ctx, "jijiao")
    await client.put(f"{URL}/weights", headers=auth(keys.admin), json=ONLY_INSTRUCTIONS)
    with frozen_day(date(2026, 3, 2)):
        a = (await make_instruction(client, leader, departments=["jijiao", "jiaokeyuan"],
                                    respond_by="2026-03-05")).json()
        await make_instruction(client, leader, departments=["jijiao"], respond_by="2026-03-10")
        await make_instruction(client, leader, departments=["guoji"], respond_by="2027-01-10")  # another year
        await client.post(f"{API}/instructions/{a['id']}/replies", headers=auth(jijiao), json={"text": "已落实"})
        early = _by_dept((await client.get(URL, headers=auth(leader), params={"date": "2026-03-06"})).json())
        late = (await client.get(URL, headers=auth(leader), params={"date": "2026-03-20"})).json()
    # On 03-06 the second 批示 is not due yet and unanswered: not counted.
    assert early["jijiao"]["instructions"] == {"on_time": 1, "due": 1} and early["jijiao"]["score"] == 100
    assert early["jiaokeyuan"]["instructions"] == {"on_time": 0, "due": 1} and early["jiaokeyuan"]["score"] == 0
    items = _by_dept(late)
    assert items["jijiao"]["instructions"] == {"on_time": 1, "due": 2}
    assert (items["jijiao"]["score"], items["jijiao"]["rank"]) == (50, 1)
    assert (items["jiaokeyuan"]["score"], items["jiaokeyuan"]["rank"]) == (0, 2)
    assert items["guoji"]["score"] is None and items["guoji"]["rank"] is None  # nothing to count in 2026
    assert items["guoji"]["components"]["instructions"] == {"value": None, "weight": 1}
    assert late["year"] == 2026 and [i["department"] for i in late["items"][:2]] == ["jijiao", "jiaokeyuan"]


async def test_on_time_rate_counts_the_years_deliverables(client: httpx.AsyncClient, keys: Keys,
                                                          app_ctx: object) -> None:
    dept = await department_key(app_ctx, "jiaokeyuan")
    with frozen_day(date(2020, 6, 1)):
        assert (await put_report(client, dept, "r03-1", state="done", done_on="2019-11-01")).status_code == 200
        assert (await put_report(client, dept, "r03-2", state="done", done_on="2019-12-20")).status_code == 200
        listing = (await client.get(f"{API}/deliverables", headers=auth(dept),
                                    params={"department": "jiaokeyuan"})).json()["items"]
        card = (await client.get(URL, headers=auth(dept), params={"year": "2019"})).json()
    in_2019 = [d for d in listing if d["deadline"] and d["deadline"].startswith("2019")]
    line = _by_dept(card)["jiaokeyuan"]
    assert line["deliverables"]["total"] == len(in_2019) >= 3
    assert line["deliverables"]["by_status"]["done_on_time"] == 1
    assert line["deliverables"]["by_status"]["done_late"] == 1
    overdue = [d for d in in_2019 if d["status"] == "overdue"]
    assert line["deliverables"]["overdue"] == len(overdue)
    assert line["deliverables"]["days_overdue"] == sum(
        (date(2020, 6, 1) - date.fromisoformat(d["deadline"])).days for d in overdue)
    assert line["components"]["on_time"]["value"] == pytest.approx(1 / len(in_2019))
    # No values stored: every city target row is no_data, so targets drop out and on_time carries the score.
    assert line["components"]["targets"]["value"] is None
    assert line["score"] == pytest.approx(round(100 / len(in_2019), 2))


async def test_csv_and_xlsx(client: httpx.AsyncClient, keys: Keys) -> None:
    await client.put(f"{URL}/weights", headers=auth(keys.admin),
                     json={"on_time": 1, "progress": 0, "instructions": 0, "targets": 0})
    with frozen_day(date(2020, 6, 1)):
        js = (await client.get(URL, headers=auth(keys.bureau), params={"year": "2019"})).json()
        csv = await client.get(URL, headers={**auth(keys.bureau), "Accept": "text/csv"},
                               params={"year": "2019", "lang": "zh"})
        xlsx = await client.get(URL, headers=auth(keys.bureau), params={"year": "2019", "format": "xlsx"})
    assert csv.headers["content-type"].startswith("text/csv")
    lines = csv.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("排名,得分,处室代码,处室")
    assert len(lines) == 1 + len(js["items"])
    assert lines[1].split(",")[2] == js["items"][0]["department"]
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("rank", "score", "department")
    assert [r[2] for r in rows[1:1 + len(js["items"])]] == [i["department"] for i in js["items"]]
    assert [r[1] for r in rows[1:1 + len(js["items"])]] == [i["score"] for i in js["items"]]


async def test_progress_extensions_and_lights_are_counted(client: httpx.AsyncClient, keys: Keys,
                                                          app_ctx: object) -> None:
    dept, leader = await department_key(app_ctx, "jiaokeyuan"), await leader_key(app_ctx)
    with frozen_day(date(2026, 1, 15)):
        r = await patch(client, keys.admin, "r03-1", deadline="2026-06-30", progress_from="2026-01-01",
                        progress_days=30)
        assert r.status_code == 200, r.text
        assert (await progress(client, dept, "r03-1")).status_code == 201  # due 01-31: on time
    with frozen_day(date(2026, 3, 2)):  # due 02-14 passed in silence: late; this report restarts the count
        assert (await progress(client, dept, "r03-1")).status_code == 201
        ext = await extend(client, dept, "r03-1", new_deadline="2026-09-30")
        assert ext.status_code == 201, ext.text
        assert (await decide(client, leader, ext.json()["id"])).status_code == 200
    with frozen_day(date(2026, 3, 20)):
        card = (await client.get(URL, headers=auth(dept))).json()
    line = _by_dept(card)["jiaokeyuan"]
    assert line["progress"] == {"on_time": 1, "due": 2}
    assert line["extensions"] == {"requested": 1, "approved": 1}
    assert _by_dept(card)["jijiao"]["extensions"] == {"requested": 1, "approved": 1}  # r03-1 is theirs too
    assert line["deliverables"]["total"] == 1 and line["deliverables"]["by_status"]["not_due"] == 1
    assert line["deliverables"]["by_light"] == {"grey": 1}
    # on time and 批示 have nothing to count and drop out; progress (1/2) and the city targets of its tasks
    # (achieved or on track / judged, no_data left out) rescale to 100
    assert line["components"]["on_time"]["value"] is None
    judged = sum(n for s, n in line["targets"].items() if s not in ("no_data", "insufficient_data"))
    good = line["targets"].get("achieved", 0) + line["targets"].get("on_track", 0)
    assert judged >= 1 and line["components"]["targets"]["value"] == good / judged
    assert line["score"] == round(100 * (20 * 0.5 + 20 * good / judged) / 40, 2)
