"""Reading deliverables: filters, CSV, the plan summary with its on-time rate, a task's scorecard, keys."""

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.api.deliverable_helpers import API, auth, department_key, listing, put_report
from tests.conftest import Keys

DAY = "2020-01-01"


async def _three_reports(client: httpx.AsyncClient, keys: Keys) -> None:
    """r03-1 done on its deadline, r03-2 a day late, r03-3 dropped (all three due 2019-11-30)."""
    for code, body in (("r03-1", {"state": "done", "done_on": "2019-11-30"}),
                       ("r03-2", {"state": "done", "done_on": "2019-12-01"}),
                       ("r03-3", {"state": "dropped", "note": "并入课程指导意见"})):
        assert (await put_report(client, keys.admin, code, **body)).status_code == 200


async def test_filters(client: httpx.AsyncClient, keys: Keys) -> None:
    t = keys.bureau
    overdue = await listing(client, t, status="overdue", date=DAY)
    # due before 2020: r03-1..3 and r07-1 (2019-11-30); r12-1, r12-2, r24-1, r30-1, r33-1 (2019-12-31); r32-1
    assert [i["code"] for i in overdue["items"]] == ["r03-1", "r03-2", "r03-3", "r07-1", "r12-1", "r12-2", "r24-1",
                                                      "r30-1", "r32-1", "r33-1"]
    assert overdue["date"] == DAY and overdue["as_of"] == "now"
    # aliases: 审批处 and 审批执法处 are 行政审批与执法处 (rows 6, 8, 22)
    for name in ("审批处", "审批执法处", "shenpi-zhifa"):
        found = await listing(client, t, department=name)
        assert [i["code"] for i in found["items"]] == ["r05-1", "r05-2", "r05-3", "r07-1", "r22-1"]
    assert [i["code"] for i in (await listing(client, t, task="15"))["items"]] == ["r14-1", "r15-1"]
    assert [i["code"] for i in (await listing(client, t, task="31"))["items"]] == ["r30-1"]
    assert len((await listing(client, t, action="9"))["items"]) == 3  # tasks 30–33: rows 30、31, 32, 33
    both = await listing(client, t, department="基教处", status="overdue", date=DAY)
    assert [i["code"] for i in both["items"]] == ["r03-1", "r03-2", "r03-3", "r07-1", "r12-1", "r12-2", "r24-1",
                                                  "r30-1", "r32-1"]


async def test_csv_has_a_bom_and_neutralises_formulas(client: httpx.AsyncClient, keys: Keys) -> None:
    bad = "=HYPERLINK(\"http://evil.example\",\"点击\")"
    assert (await put_report(client, keys.admin, "r04-1", state="in_progress", note=bad,
                             document_no="+青教发〔2019〕1号")).status_code == 200
    r = await client.get(f"{API}/deliverables", headers={**auth(keys.bureau), "Accept": "text/csv"},
                         params={"row": "4"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert [row["code"] for row in rows] == ["r04-1", "r04-2", "r04-3"]
    assert rows[0]["note"] == "'" + bad and rows[0]["document_no"] == "'+青教发〔2019〕1号"
    assert rows[0]["status"] == "standing" and rows[0]["departments"] == "jiaokeyuan jijiao zhaokao"
    zh = await client.get(f"{API}/deliverables", headers=auth(keys.bureau),
                          params={"row": "4", "format": "csv", "lang": "zh"})
    rows = list(csv.DictReader(io.StringIO(zh.content.decode("utf-8-sig"))))
    assert rows[0]["责任处室"] == "教科院、基教处、招考办" and rows[0]["状态"] == "长期推进"


async def test_plan_summary_worked_example(client: httpx.AsyncClient, keys: Keys) -> None:
    await _three_reports(client, keys)
    r = await client.get(f"{API}/plan/summary", headers=auth(keys.bureau), params={"date": DAY})
    assert r.status_code == 200, r.text
    body = r.json()
    # 17 deliverables have a deadline: 10 due before 2020 (r03-1..3 reported), 7 later; 26 are 长期
    assert body["total"]["counts"] == {"overdue": 7, "done_late": 1, "done_after_extension": 0, "due_soon": 0,
                                       "not_due": 7, "standing": 26,
                                       "dropped": 1, "done": 0, "done_on_time": 1}
    assert body["total"]["on_time_rate"] == pytest.approx(1 / 9)
    dept = {g["key"]: g for g in body["by_department"]}
    # 教科院 lists 17: r03-1 on time, r03-2 late, r03-3 dropped, r12-1, r12-2, r33-1 overdue, 3 not due, 8 standing
    assert dept["jiaokeyuan"]["total"] == 17
    assert dept["jiaokeyuan"]["counts"]["overdue"] == 3 and dept["jiaokeyuan"]["counts"]["standing"] == 8
    assert dept["jiaokeyuan"]["on_time_rate"] == pytest.approx(1 / 5)
    assert dept["tiweiyi"]["on_time_rate"] is None  # only 长期 deliverables
    action = {g["key"]: g for g in body["by_action"]}
    # action 2 is tasks 3–9: rows printed 3 (1), 4 (3), 5 (3), 6 (3), 7 (2), 8 (1), 9 (1)
    assert action["2"]["total"] == 14 and action["2"]["name_zh"]
    # the past: before the reports, r03-1..3 were simply overdue
    past = (await client.get(f"{API}/plan/summary", headers=auth(keys.bureau),
                             params={"date": DAY, "as_of": "2020-01-01"})).json()
    assert past["total"]["counts"]["overdue"] == 10 and past["total"]["on_time_rate"] == 0.0
    csv_body = await client.get(f"{API}/plan/summary", headers={**auth(keys.bureau), "Accept": "text/csv"},
                                params={"date": DAY})
    first = list(csv.DictReader(io.StringIO(csv_body.content.decode("utf-8-sig"))))[0]
    assert first["group"] == "all" and first["overdue"] == "7" and float(first["on_time_rate"]) == pytest.approx(1 / 9)


async def test_task_scorecard(client: httpx.AsyncClient, keys: Keys) -> None:
    await _three_reports(client, keys)
    r = await client.get(f"{API}/tasks/4/scorecard", headers=auth(keys.bureau), params={"date": DAY})
    assert r.status_code == 200, r.text
    card = r.json()
    assert [d["code"] for d in card["deliverables"]] == ["r03-1", "r03-2", "r03-3"]
    assert [t["indicator"] for t in card["targets"]] == ["t04-school-curriculum-collection"]
    assert card["worst"] == {"targets": "no_data", "deliverables": "done_late"}  # no value reported
    assert card["departments"] == ["jiaokeyuan", "jijiao", "zhuangbei-xinxi"] and card["action"] == 2  # Annex 1
    empty = (await client.get(f"{API}/tasks/1/scorecard", headers=auth(keys.bureau), params={"date": DAY})).json()
    assert empty["targets"] == [] and empty["worst"] == {"targets": None, "deliverables": "not_due"}
    assert (await client.get(f"{API}/tasks/99/scorecard", headers=auth(keys.bureau))).json()["code"] == "unknown_task"


async def test_department_keys_over_http(client: httpx.AsyncClient, keys: Keys) -> None:
    h = auth(keys.admin)
    made = await client.post(f"{API}/keys", headers=h, json={"role": "department", "department": "装备信息中心",
                                                              "name": "装备中心"})
    assert made.status_code == 201 and made.json()["department"] == "zhuangbei-xinxi"
    assert (await put_report(client, made.json()["key"], "r02-1", state="in_progress")).status_code == 200
    for body in ({"role": "department", "name": "x"}, {"role": "department", "department": "宣传处", "name": "x"},
                 {"role": "bureau", "department": "基教处", "name": "x"}):
        assert (await client.post(f"{API}/keys", headers=h, json=body)).status_code == 422
    listed = (await client.get(f"{API}/keys", headers=h)).json()
    assert any(k["department"] == "zhuangbei-xinxi" for k in listed)


async def test_department_key_reads_everything(client: httpx.AsyncClient, app_ctx: object) -> None:
    token = await department_key(app_ctx, "jijiao")
    for path in ("/tasks", "/attainment/summary", "/deliverables", "/plan/summary", "/tasks/3/scorecard"):
        assert (await client.get(f"{API}{path}", headers=auth(token))).status_code == 200, path


def test_cli_creates_a_department_key(tmp_path: Path) -> None:
    env = {**os.environ, "ATTAIN_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/a.db",
           "ATTAIN_BOOTSTRAP_KEY_FILE": str(tmp_path / "admin.key")}
    root = Path(__file__).resolve().parents[2]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=root, env=env, capture_output=True,
                              text=True, timeout=120, check=False)

    assert run("migrate").returncode == 0 and run("seed").returncode == 0
    done = run("keys", "create", "--role", "department", "--department", "基教处", "--name", "基教处")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().startswith("attain_")
    listed = run("keys", "list").stdout
    assert "department\tjijiao" in listed
    refused = run("keys", "create", "--role", "department", "--name", "nobody")
    assert refused.returncode == 2 and "--department" in refused.stderr
