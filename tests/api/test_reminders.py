"""The reminder scheduler: a whole deadline cycle day by day, restarts, downtime, races between processes."""

import asyncio
from collections import Counter
from datetime import date, timedelta

import pytest

from app import clock
from tests.api.reminder_helpers import notices, only_deliverables, run, server_like, set_deadline

CODE = "r03-1"  # departments jiaokeyuan (lead) and jijiao; not done in the seed
D = date(2026, 3, 31)


@pytest.fixture(autouse=True)
def _restore_clock():
    yield
    clock.set_now(None)


def _seen(rows) -> Counter:
    return Counter((r.kind, r.due_day, r.recipient_kind, r.recipient_code, r.seq) for r in rows)


async def test_a_whole_deadline_cycle_day_by_day_with_a_restart(database_url: str) -> None:
    first = D - timedelta(days=35)
    async with server_like(database_url) as sessions:
        await only_deliverables(sessions, {CODE})
        await set_deadline(sessions, CODE, D)
    restart_on = D + timedelta(days=3)
    for start, end in ((first, restart_on), (restart_on, D + timedelta(days=16))):
        async with server_like(database_url) as sessions:  # a restart between the two: a new process, same store
            day = start
            while day <= end:
                clock.set_today(day)
                await run(sessions)
                day += timedelta(days=1)
    async with server_like(database_url) as sessions:
        rows = await notices(sessions, subject_kind="deliverable", subject_code=CODE)
    deps = ("jiaokeyuan", "jijiao")
    expected = Counter()
    for kind, due, seq, leaders in (
        ("deadline_reminder", D - timedelta(days=30), None, False),
        ("deadline_reminder", D - timedelta(days=7), None, False),
        ("deadline_reminder", D - timedelta(days=1), None, False),
        ("overdue", D + timedelta(days=1), None, False),
        ("urge", D + timedelta(days=8), 1, True),
        ("urge", D + timedelta(days=15), 2, True),
    ):
        for dep in deps:
            expected[(kind, due, "department", dep, seq)] += 1
        if leaders:
            expected[(kind, due, "role", "leader", seq)] += 1
    assert _seen(rows) == expected
    urge2 = next(r for r in rows if r.kind == "urge" and r.seq == 2)
    assert "第2次催办" in urge2.title and "第2次催办" in urge2.body
    assert urge2.link == f"https://attain.example.cn/departments/jiaokeyuan#{CODE}"
    reminder = next(r for r in rows if r.due_day == D - timedelta(days=7))
    assert "还有 7 天" in reminder.body


async def test_nothing_is_dated_before_the_first_run_and_downtime_catches_up_once(database_url: str) -> None:
    async with server_like(database_url) as sessions:
        await only_deliverables(sessions, {CODE, "r03-2"})
        await set_deadline(sessions, CODE, D)
        await set_deadline(sessions, "r03-2", D - timedelta(days=40))  # already overdue at the first run
        clock.set_today(D - timedelta(days=20))
        await run(sessions)
        first = await notices(sessions, subject_kind="deliverable", recipient_code="jijiao")
        assert sorted((r.subject_code, r.kind, r.due_day) for r in first) == [
            (CODE, "deadline_reminder", D - timedelta(days=20)),  # the 30-days reminder, dated the first day
            ("r03-2", "overdue", D - timedelta(days=20)),  # one overdue notice, not one per day since
        ]
        # Down for 3 weeks: one catch-up notice for what fell due meanwhile, not one per missed milestone.
        clock.set_today(D + timedelta(days=2))
        await run(sessions)
        await run(sessions)
        rows = await notices(sessions, subject_kind="deliverable", recipient_code="jijiao")
        new = sorted((r.subject_code, r.kind, r.due_day, r.seq) for r in rows[len(first):])
        assert new == [(CODE, "overdue", D + timedelta(days=1), None),
                       ("r03-2", "urge", D + timedelta(days=1), 1)]  # the latest 催办 day reached
        # The next 催办 of r03-2 counts 7 days from the one just sent, not from the day it stood for.
        clock.set_today(D + timedelta(days=8))
        await run(sessions)
        assert not [r for r in await notices(sessions, subject_code="r03-2", kind="urge") if r.seq == 2]
        clock.set_today(D + timedelta(days=9))
        await run(sessions)
        assert [r.due_day for r in await notices(sessions, subject_code="r03-2", kind="urge",
                                                 recipient_code="jijiao")] == [D + timedelta(days=1),
                                                                               D + timedelta(days=9)]


async def test_a_done_deliverable_is_pressed_no_more(database_url: str, client, keys) -> None:
    async with server_like(database_url) as sessions:
        await only_deliverables(sessions, {CODE})
        await set_deadline(sessions, CODE, D)
        clock.set_today(D + timedelta(days=1))
        await run(sessions)
    clock.set_today(D + timedelta(days=2))
    r = await client.put(f"/api/v1/deliverables/{CODE}/report", headers=keys.auth(keys.admin),
                         json={"state": "done", "done_on": (D + timedelta(days=2)).isoformat()})
    assert r.status_code in (200, 201), r.text
    async with server_like(database_url) as sessions:
        clock.set_today(D + timedelta(days=30))
        await run(sessions)
        assert [r.kind for r in await notices(sessions, subject_code=CODE, recipient_code="jijiao")] == ["overdue"]


async def test_two_schedulers_at_once_create_each_notice_once(database_url: str) -> None:
    async with server_like(database_url) as one, server_like(database_url) as two:
        await only_deliverables(one, {CODE, "r03-2", "r03-3"})
        for code in (CODE, "r03-2", "r03-3"):
            await set_deadline(one, code, D)
        for offset in (-30, -7, -1, 1, 8):
            clock.set_today(D + timedelta(days=offset))
            await asyncio.gather(*(run(s) for s in (one, two, one, two)))
        rows = await notices(one, subject_kind="deliverable")
        keys = Counter((r.subject_code, r.kind, r.due_day, r.recipient_kind, r.recipient_code) for r in rows)
        assert keys and max(keys.values()) == 1
        assert len(rows) == 3 * (2 * 5 + 1)  # two departments each day, and the leaders on the 催办
