"""Concurrent extension requests and decisions keep one consistent history (both databases; PostgreSQL runs
them truly at once, on separate connections)."""

import asyncio
from datetime import date
from typing import Any

import httpx

from tests.api.deliverable_helpers import API, auth, department_key, history
from tests.api.supervision_helpers import CODE, DEPARTMENT, decide, extend, patch, progress, today
from tests.api.test_supervision_api import leader_key
from tests.conftest import Keys


async def test_concurrent_requests_leave_one_pending(app_ctx: Any, client: httpx.AsyncClient, keys: Keys) -> None:
    keys_of = [await department_key(app_ctx, DEPARTMENT), await department_key(app_ctx, "jijiao"), keys.admin]
    with today(date(2027, 1, 10)):
        assert (await patch(client, keys.admin, deadline="2027-03-31")).status_code == 200
        answers = await asyncio.gather(*(extend(client, keys_of[i % 3], new_deadline=f"2027-0{4 + i % 5}-30")
                                         for i in range(9)))
    codes = sorted(r.status_code for r in answers)
    assert codes == [201] + [409] * 8, [r.text for r in answers]
    assert all(r.json()["code"] == "extension_pending" for r in answers if r.status_code == 409)
    listed = (await client.get(f"{API}/extensions", headers=auth(keys.bureau), params={"state": "pending"})).json()
    assert len(listed) == 1


async def test_concurrent_decisions_take_one(app_ctx: Any, client: httpx.AsyncClient, keys: Keys) -> None:
    mine, leader = await department_key(app_ctx, DEPARTMENT), await leader_key(app_ctx)
    with today(date(2027, 1, 10)):
        assert (await patch(client, keys.admin, deadline="2027-03-31")).status_code == 200
        ext = (await extend(client, mine, new_deadline="2027-06-30")).json()["id"]
        answers = await asyncio.gather(*(decide(client, (leader, keys.admin)[i % 2], ext,
                                                ("approve", "reject")[i // 2 % 2], note=f"决定 {i}")
                                         for i in range(8)),
                                       progress(client, mine))
        decisions = answers[:-1]
        assert sorted(r.status_code for r in decisions) == [200] + [409] * 7, [r.text for r in decisions]
        winner = next(r.json() for r in decisions if r.status_code == 200)
        assert all(r.json()["code"] == "review_state" for r in decisions if r.status_code == 409)
        steps = [h for h in await history(client, keys.bureau, CODE) if h["kind"] == "extension"]
        decided = {"approved": "approve", "rejected": "reject"}[winner["state"]]
        assert [h["action"] for h in steps] == ["request", decided]
        effective = (await client.get(f"{API}/deliverables/{CODE}", headers=auth(keys.bureau))).json()
        assert effective["effective_deadline"] == ("2027-06-30" if winner["state"] == "approved" else "2027-03-31")
