"""Two `attain serve` processes on one PostgreSQL database for a simulated week (their clocks started on the
same morning and run a day every few seconds): every notification is created once per recipient and delivered
once to the receiver, which always answers at once."""

import asyncio
import os
import subprocess
import sys
import time
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from app.clock import SHANGHAI
from tests.api.reminder_helpers import only_deliverables, server_like, set_deadline, sql
from tests.deploy.live import free_port, wait_for
from tests.receiver import receiver

ROOT = Path(__file__).resolve().parents[2]
DAY0 = date(2026, 3, 25)
DEADLINES = {"r03-1": DAY0 + timedelta(days=1), "r03-2": DAY0 + timedelta(days=7), "r03-3": DAY0 - timedelta(days=3)}
SECONDS_PER_DAY = 4.0


def _serve(database_url: str, folder: Path, n: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    start = datetime(DAY0.year, DAY0.month, DAY0.day, 9, tzinfo=SHANGHAI).isoformat()
    env = {**os.environ, "ATTAIN_DATABASE_URL": database_url, "ATTAIN_PORT": str(port), "ATTAIN_LOG_LEVEL": "warning",
           "ATTAIN_CLOCK_START": start, "ATTAIN_CLOCK_RATE": str(86400 / SECONDS_PER_DAY),
           "ATTAIN_REMIND_ENABLED": "true", "ATTAIN_REMIND_EVERY_SECONDS": "0.2", "ATTAIN_SEND_EVERY_SECONDS": "0.2",
           "ATTAIN_BOOTSTRAP_KEY_FILE": str(folder / f"admin-{n}.key")}
    with (folder / f"serve-{n}.log").open("ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve"], cwd=ROOT, env=env, stdout=log,
                                stderr=log)
    return proc, f"http://127.0.0.1:{port}"


# Two processes on one database: PostgreSQL only (SQLite's one writer is not what replicas share).
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_two_servers_for_a_week_create_and_deliver_each_notice_once(database_url, tmp_path, keys, client):
    with receiver() as rx:
        r = await client.post("/api/v1/channels", headers=keys.auth(keys.admin),
                              json={"kind": "wecom", "url": rx.url, "department": "jiaokeyuan"})
        assert r.status_code == 201
        async with server_like(database_url) as sessions:
            await only_deliverables(sessions, set(DEADLINES))
            for code, deadline in DEADLINES.items():
                await set_deadline(sessions, code, deadline)
            procs = [_serve(database_url, tmp_path, n) for n in (1, 2)]
            try:
                for _proc, base in procs:
                    wait_for(lambda b=base: httpx.get(f"{b}/readyz", timeout=2).status_code == 200, timeout=90,
                             what="attain")
                # Both clocks started on DAY0's morning; let them run past a week.
                async def today() -> date:
                    ran = await sql(sessions, "SELECT max(due_day) FROM notifications WHERE subject_kind = "
                                              "'deliverable'")
                    return ran[0][0] or DAY0
                give_up = time.monotonic() + 20 * SECONDS_PER_DAY
                while await today() < DEADLINES["r03-1"] + timedelta(days=8):
                    assert time.monotonic() < give_up, "the servers did not get through the week"
                    await asyncio.sleep(0.5)
                for proc, _base in procs:
                    proc.terminate()
                for proc, _base in procs:
                    proc.wait(timeout=30)
            finally:
                for proc, _base in procs:
                    if proc.poll() is None:
                        proc.kill()
                        proc.wait()
            rows = await sql(sessions, "SELECT id, subject_code, kind, due_day, recipient_kind, recipient_code "
                                       "FROM notifications WHERE subject_kind = 'deliverable'")
            outbox = await sql(sessions, "SELECT notification_id, state, tries FROM outbox")
            attempts = await sql(sessions, "SELECT outbox_id FROM delivery_attempts")
    keys_ = Counter(r[1:] for r in rows)
    assert keys_ and max(keys_.values()) == 1
    kinds = Counter((r[1], r[2]) for r in rows if r[5] == "jiaokeyuan")
    assert kinds[("r03-1", "overdue")] == 1 and kinds[("r03-1", "urge")] == 1
    assert kinds[("r03-3", "overdue")] == 1 and kinds[("r03-3", "urge")] >= 1
    assert kinds[("r03-2", "deadline_reminder")] >= 2
    mine = {r[0] for r in rows if r[5] == "jiaokeyuan"}
    delivered = {o[0] for o in outbox if o[1] == "delivered"}
    assert {o[0] for o in outbox} == mine and len(outbox) == len(mine)
    # What was sent before the servers stopped was sent once: one attempt per delivery, one message each.
    assert all(o[2] == 1 for o in outbox if o[1] == "delivered")
    assert len(attempts) == len(delivered) == len(rx.got)
    assert len(delivered) >= len(mine) - 2
