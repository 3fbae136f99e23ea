"""`attain simulate` plays 批示 over HTTP: a leader writes a few, departments answer most, one is closed."""

from datetime import timedelta

import httpx

from app import clock, simulate
from app.simulate_instructions import INSTRUCTED, play_instructions
from tests.conftest import Keys


async def test_a_leader_instructs_and_departments_answer_most(client: httpx.AsyncClient, keys: Keys) -> None:
    admin = {"Authorization": f"Bearer {keys.admin}"}
    await simulate.play_departments(client, admin, seed=7)
    made: list[int] = []
    counts = await play_instructions(client, admin, made_ids=made)
    assert counts == {"instructions": INSTRUCTED, "replies": INSTRUCTED - 1, "closed": 1}
    items = (await client.get("/api/v1/instructions", headers=admin)).json()["items"]
    assert sorted(i["state"] for i in items) == ["answered", "answered", "closed", "open"]
    (closed,) = [i for i in items if i["state"] == "closed"]
    assert closed["replies"][0]["files"][0]["type"] == "pdf"
    (waiting,) = [i for i in items if i["state"] == "open"]
    assert waiting["respond_by"] == clock.today().isoformat() and waiting["overdue"] is False
    tomorrow = (clock.today() + timedelta(days=1)).isoformat()
    later = (await client.get(f"/api/v1/instructions/{waiting['id']}", headers=admin, params={"date": tomorrow}))
    assert later.json()["overdue"] is True
    assert {i["created_by"] for i in items} == {"局领导 批示 (simulated)"}
