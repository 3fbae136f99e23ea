"""`attain simulate` plays the departments: most deliverables done on time, a few late, a few overdue."""

from datetime import date

import httpx

from app import simulate
from tests.conftest import Keys


def _item(code: str, row: int, n: int, deadline: str | None) -> dict[str, object]:
    return {"code": code, "row": row, "n": n, "deadline": deadline, "departments": ["jijiao"]}


def test_plan_reports_is_deterministic_and_mixed() -> None:
    items = [_item(f"r{i:02d}-1", i, 1, "2019-11-30") for i in range(1, 17)] + [_item("r20-1", 20, 1, None)]
    first = simulate.plan_reports(items, date(2026, 11, 30), seed=7)
    assert first == simulate.plan_reports(items, date(2026, 11, 30), seed=7)
    states = [body["state"] for _, _, body in first[:16]]
    # of 16 passed deadlines: k = 6, 14 stay in progress (overdue); k = 3, 11 are done late; the rest on time
    assert [k for k, s in enumerate(states) if s == "in_progress"] == [6, 14]
    late = [k for k, (_, _, b) in enumerate(first[:16]) if b["state"] == "done" and b["done_on"] > "2019-11-30"]
    assert late == [3, 11]
    assert all(b["done_on"] <= "2026-11-30" for _, _, b in first if b["state"] == "done")
    assert all(b["note"] == simulate.COMMENT for _, _, b in first)


async def test_the_departments_report_over_http(client: httpx.AsyncClient, keys: Keys) -> None:
    admin = {"Authorization": f"Bearer {keys.admin}"}
    statuses = await simulate.play_departments(client, admin, seed=2019)
    # 17 deliverables have a (passed) deadline: 13 on time, 2 late, 2 overdue; 26 long-term ones done or standing
    assert statuses["done_on_time"] == 13 and statuses["done_late"] == 2 and statuses["overdue"] == 2
    assert statuses["done"] + statuses["standing"] == 26 and statuses["done"] > 0
    listed = (await client.get("/api/v1/keys", headers=admin)).json()
    made = [k for k in listed if k["role"] == "department"]
    assert {k["department"] for k in made} == {"jijiao", "zhuangbei-xinxi", "jiaokeyuan", "fagui", "tiweiyi",
                                               "shenpi-zhifa", "guoji", "dudao", "renshi", "sizheng", "jijian",
                                               "jicai", "jiating-jiaoyu"}
    history = (await client.get("/api/v1/deliverables/r03-1/history", headers=admin)).json()
    assert history[0]["department"] == "jiaokeyuan" and history[0]["key_name"] == "jiaokeyuan (simulated)"


async def test_supervision_is_played_over_http(client: httpx.AsyncClient, keys: Keys) -> None:
    admin = {"Authorization": f"Bearer {keys.admin}"}
    await simulate.play_departments(client, admin, seed=7)
    made: list[int] = []
    counts = await simulate.play_supervision(client, admin, made_ids=made)
    assert counts["extensions_approved"] == 1 and counts["extensions_rejected"] == 1
    assert counts["progress_reports"] >= 2
    decided = (await client.get("/api/v1/extensions", headers=admin)).json()
    assert sorted(x["state"] for x in decided) == ["approved", "rejected"]
    extended = await client.get(f"/api/v1/deliverables/{decided[0]['deliverable']}", headers=admin)
    assert extended.json()["effective_deadline"] == decided[0]["new_deadline"]
    listed = (await client.get(f"/api/v1/deliverables/{decided[0]['deliverable']}/progress", headers=admin)).json()
    pdf = await client.get(listed[0]["files"][0]["url"], headers=admin)
    assert pdf.content.startswith(b"%PDF-1.4") and listed[0]["files"][0]["type"] == "pdf"
    assert len(made) >= 2  # its keys are listed, so `run` revokes them
