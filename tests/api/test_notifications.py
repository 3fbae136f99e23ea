"""The inbox: a department, a district and the leaders each see their own notifications and mark them read; the
scheduler's counters and the outbox gauges on /metrics; `attain remind --dry-run`."""

import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

from app import clock
from app.db import keys as key_store
from app.domain.keys import Role
from tests.api.reminder_helpers import notices, only_deliverables, run, server_like, set_deadline, sql

ROOT = Path(__file__).resolve().parents[2]
D = date(2026, 3, 31)


@pytest.fixture(autouse=True)
def _restore_clock():
    yield
    clock.set_now(None)


async def _key(app_ctx, role: Role, *, department: str | None = None, unit: str | None = None) -> dict[str, str]:
    async with app_ctx.state.sessions() as s, s.begin():
        _, token = await key_store.create_key(s, name=f"inbox {role.value} {department or unit or ''}", role=role,
                                              unit_code=unit, department=department)
    return {"Authorization": f"Bearer {token}"}


async def _pressed(database_url: str) -> None:
    async with server_like(database_url) as sessions:
        await only_deliverables(sessions, {"r03-1"})
        await set_deadline(sessions, "r03-1", D)
        clock.set_today(D + timedelta(days=1))
        await run(sessions)
        clock.set_today(D + timedelta(days=8))
        await run(sessions)


async def test_each_caller_sees_its_own_and_marks_them_read(database_url, app_ctx, client, keys):
    await _pressed(database_url)
    jijiao = await _key(app_ctx, Role.DEPARTMENT, department="jijiao")
    fagui = await _key(app_ctx, Role.DEPARTMENT, department="fagui")
    leader = await _key(app_ctx, Role.LEADER)

    mine = (await client.get("/api/v1/notifications", headers=jijiao)).json()
    assert [(n["kind"], n["seq"]) for n in mine["items"]] == [("urge", 1), ("overdue", None)]
    assert mine["unread"] == 2
    urge = mine["items"][0]
    assert urge["subject"] == {"kind": "deliverable", "code": "r03-1"}
    assert urge["recipient"] == {"kind": "department", "code": "jijiao"}
    assert urge["due_day"] == (D + timedelta(days=8)).isoformat() and urge["read_at"] is None
    assert (await client.get("/api/v1/notifications", headers=fagui)).json() == {"unread": 0, "items": []}
    theirs = (await client.get("/api/v1/notifications", headers=leader)).json()["items"]
    assert [(n["kind"], n["recipient"]["kind"]) for n in theirs] == [("urge", "role")]

    # Another department may not mark it read; its own may, twice harmlessly.
    r = await client.post(f"/api/v1/notifications/{urge['id']}/read", headers=fagui)
    assert r.status_code == 404 and r.json()["code"] == "unknown_notification"
    r = await client.post(f"/api/v1/notifications/{urge['id']}/read", headers=jijiao)
    assert r.status_code == 200 and r.json()["read_at"] is not None
    first_read = r.json()["read_at"]
    r = await client.post(f"/api/v1/notifications/{urge['id']}/read", headers=jijiao)
    assert r.json()["read_at"] == first_read
    unread = (await client.get("/api/v1/notifications?unread=true", headers=jijiao)).json()
    assert [n["kind"] for n in unread["items"]] == ["overdue"] and unread["unread"] == 1
    read = (await client.get("/api/v1/notifications?unread=false", headers=jijiao)).json()
    assert [n["id"] for n in read["items"]] == [urge["id"]]
    # The leaders' copy is their own: still unread.
    assert (await client.get("/api/v1/notifications", headers=leader)).json()["unread"] == 1


async def test_bad_inbox_requests_are_4xx(client, keys):
    assert (await client.get("/api/v1/notifications")).status_code == 401
    assert (await client.get("/api/v1/notifications?unread=maybe", headers=keys.auth(keys.admin))).status_code == 422
    assert (await client.post("/api/v1/notifications/0/read", headers=keys.auth(keys.admin))).status_code == 422
    r = await client.post(f"/api/v1/notifications/{2**31}/read", headers=keys.auth(keys.admin))
    assert r.status_code == 422
    r = await client.post("/api/v1/notifications/99/read", headers=keys.auth(keys.admin))
    assert r.status_code == 404


async def test_metrics_count_notifications_and_show_the_outbox(database_url, client, keys):
    before = (await client.get("/metrics", headers=keys.auth(keys.scraper))).text
    assert "attain_outbox_depth 0.0" in before and "attain_outbox_oldest_seconds 0.0" in before
    r = await client.post("/api/v1/channels", headers=keys.auth(keys.admin),
                          json={"kind": "wecom", "url": "http://127.0.0.1:9/robot", "department": "jijiao"})
    assert r.status_code == 201
    await _pressed(database_url)
    clock.advance(timedelta(minutes=30))
    text = (await client.get("/metrics", headers=keys.auth(keys.scraper))).text
    assert "attain_outbox_depth 2.0" in text
    age = next(float(line.split()[1]) for line in text.splitlines() if line.startswith("attain_outbox_oldest_seconds"))
    assert age >= 30 * 60
    assert 'attain_notifications_created_total{kind="urge"}' in text
    # Counters exist from the start (process-wide: other tests of this process may have counted some already).
    assert 'attain_deliveries_total{channel_kind="dingtalk",result="broken"} ' in text


def test_remind_dry_run_prints_what_would_be_sent_in_chinese(tmp_path: Path) -> None:
    env = {"ATTAIN_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/a.db", "PATH": "/usr/bin:/bin",
           "ATTAIN_PUBLIC_URL": "https://attain.example.cn"}
    for args in (["migrate"], ["seed"]):
        subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=ROOT, env=env, check=True, capture_output=True)
    done = subprocess.run([sys.executable, "-m", "app.cli", "remind", "--dry-run", "--date", "2019-11-23"], cwd=ROOT,
                          env=env, capture_output=True, text=True, check=True)
    assert done.stdout.startswith("2019-11-23 将发送 ")
    assert "【到期提醒】" in done.stdout and "还有 7 天" in done.stdout
    assert "https://attain.example.cn/departments/" in done.stdout
    again = subprocess.run([sys.executable, "-m", "app.cli", "remind", "--dry-run", "--date", "2019-11-23"],
                           cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert again.stdout == done.stdout  # nothing was stored
    bad = subprocess.run([sys.executable, "-m", "app.cli", "remind", "--dry-run", "--date", "soon"], cwd=ROOT,
                         env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and "YYYY-MM-DD" in bad.stderr


async def test_instructions_replies_extensions_and_progress_reach_their_recipients(database_url, app_ctx, client):
    clock.set_today(date(2026, 12, 10))
    admin = await _key(app_ctx, Role.ADMIN)
    leader = await _key(app_ctx, Role.LEADER)
    jijiao = await _key(app_ctx, Role.DEPARTMENT, department="jijiao")
    async with server_like(database_url) as sessions:
        await only_deliverables(sessions, {"r03-1"})
        await set_deadline(sessions, "r03-1", date(2027, 3, 31))
        await run(sessions)  # the first day: nothing of these yet
    r = await client.post("/api/v1/instructions", headers=leader, json={
        "target": {"kind": "deliverable", "code": "r03-1"}, "text": "请抓紧推进并报送进展。",
        "departments": ["jijiao", "fagui"], "respond_by": "2026-12-20"})
    assert r.status_code == 201, r.text
    number = r.json()["id"]
    clock.set_today(date(2026, 12, 11))
    r = await client.post(f"/api/v1/instructions/{number}/replies", headers=jijiao, json={"text": "已部署。"})
    assert r.status_code in (200, 201), r.text
    r = await client.post("/api/v1/deliverables/r03-1/extensions", headers=jijiao,
                          json={"new_deadline": "2027-06-30", "reason": "需要更多时间", "progress": "已完成初稿"})
    assert r.status_code == 201, r.text
    r = await client.post(f"/api/v1/extensions/{r.json()['id']}/approve", headers=admin, json={"note": "同意"})
    assert r.status_code == 200, r.text
    async with server_like(database_url) as sessions:
        await run(sessions)
        await run(sessions)
    mine = (await client.get("/api/v1/notifications", headers=jijiao)).json()["items"]
    kinds = sorted((n["kind"], n["subject"]["kind"]) for n in mine)
    assert kinds == [("extension_decision", "deliverable"), ("instruction", "instruction")]
    decision = next(n for n in mine if n["kind"] == "extension_decision")
    assert "已批准" in decision["title"] and "2027年6月30日" in decision["body"]
    theirs = (await client.get("/api/v1/notifications", headers=leader)).json()["items"]
    assert [(n["kind"], n["subject"]["code"]) for n in theirs] == [("instruction_reply", str(number))]
    assert "基教处" in theirs[0]["body"]


async def test_a_progress_report_due_is_reminded_once_and_a_report_resets_the_count(database_url, app_ctx, client):
    jijiao = await _key(app_ctx, Role.DEPARTMENT, department="jijiao")
    async with server_like(database_url) as sessions:
        await only_deliverables(sessions, {"r03-1"})
        await set_deadline(sessions, "r03-1", date(2028, 3, 31))
        installed = (await sql(sessions, "SELECT installed_on FROM feature_installs"))[0][0]
        installed = installed if isinstance(installed, date) else date.fromisoformat(str(installed))
        for offset in (29, 30, 31, 32):
            clock.set_today(installed + timedelta(days=offset))
            await run(sessions)
        due = await notices(sessions, kind="progress_due", recipient_code="jijiao")
        assert [r.due_day for r in due] == [installed + timedelta(days=30)]
        r = await client.post("/api/v1/deliverables/r03-1/progress", headers=jijiao, data={"summary": "已起草。"})
        assert r.status_code == 201, r.text
        clock.set_today(installed + timedelta(days=61))
        await run(sessions)
        assert len(await notices(sessions, kind="progress_due", recipient_code="jijiao")) == 1
        clock.set_today(installed + timedelta(days=62))
        await run(sessions)
        due = await notices(sessions, kind="progress_due", recipient_code="jijiao")
        assert [r.due_day for r in due] == [installed + timedelta(days=30), installed + timedelta(days=62)]
        assert "进展" in due[-1].title


async def test_the_desk_shows_the_unread_count_and_the_list(database_url, app_ctx, client):
    from tests.web.test_session import sign_in

    await _pressed(database_url)
    jijiao = await _key(app_ctx, Role.DEPARTMENT, department="jijiao")
    r = await sign_in(client, jijiao["Authorization"].removeprefix("Bearer "), "/desk")
    assert r.status_code == 303, r.text
    page = await client.get("/desk")
    assert page.status_code == 200
    assert 'data-unread="2"' in page.text and "未读 2 条" in page.text
    assert page.text.count("data-notification=") == 2 and "【第1次催办】" in page.text
    items = (await client.get("/api/v1/notifications", headers=jijiao)).json()["items"]
    await client.post(f"/api/v1/notifications/{items[0]['id']}/read", headers=jijiao)
    assert 'data-unread="1"' in (await client.get("/desk")).text


async def test_the_attention_page_shows_the_leaders_their_own(database_url, app_ctx, client):
    from tests.web.test_session import sign_in

    await _pressed(database_url)
    leader = await _key(app_ctx, Role.LEADER)
    assert (await sign_in(client, leader["Authorization"].removeprefix("Bearer "), "/attention")).status_code == 303
    page = (await client.get("/attention")).text
    assert 'data-unread="1"' in page and page.count('data-kind="urge"') == 1
