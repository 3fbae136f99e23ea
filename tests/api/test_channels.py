"""Channels and the outbox: DingTalk signing as DingTalk computes it, errcode handling, retries with backoff,
broken channels, the per-minute limit and its digest, secrets that never come back, slow receivers."""

import asyncio
import time
from datetime import date, timedelta

import pytest

from app import clock
from app.db.archive import tables
from app.db.notifications import NewNotice
from app.domain.reminders import Kind, Recipient, RecipientKind
from app.services import reminders
from tests.api.reminder_helpers import send, server_like, sql
from tests.receiver import receiver

CHANNELS = "/api/v1/channels"
SECRET = "SEC0123456789abcdef-secret"


@pytest.fixture(autouse=True)
def _restore_clock():
    clock.set_today(date(2026, 5, 4))
    yield
    clock.set_now(None)


def _notice(i: int, department: str = "jijiao") -> NewNotice:
    return NewNotice(Kind.OVERDUE, "deliverable", f"r03-{i}", Recipient(RecipientKind.DEPARTMENT, department),
                     date(2026, 5, 4), None, f"【逾期通知】事项 {i}", f"事项 {i} 已逾期。", f"https://attain.example.cn/x/{i}")


async def _queue(database_url: str, n: int, **kw) -> list[int]:
    async with server_like(database_url) as sessions, sessions() as s, s.begin():
        return await reminders.notify(s, [_notice(i, **kw) for i in range(1, n + 1)])


async def _channel(client, keys, **body) -> dict:
    r = await client.post(CHANNELS, headers=keys.auth(keys.admin), json={"department": "jijiao", **body})
    assert r.status_code == 201, r.text
    return r.json()


async def test_dingtalk_fails_twice_then_delivers_once_with_three_signed_attempts(database_url, client, keys):
    with receiver(secret=SECRET, script=[(500, {"oops": True}), (200, {"errcode": 130101, "errmsg": "send too fast"})]
                  ) as rx:
        ch = await _channel(client, keys, kind="dingtalk", url=rx.url, secret=SECRET)
        assert "secret" not in ch and ch["has_secret"] is True
        await _queue(database_url, 1)
        async with server_like(database_url) as sessions:
            assert await send(sessions) == 1
            assert await send(sessions) == 0  # backing off: nothing due yet
            clock.advance(timedelta(minutes=12))
            assert await send(sessions) == 1
            clock.advance(timedelta(minutes=23))
            assert await send(sessions) == 1
            clock.advance(timedelta(days=2))
            assert await send(sessions) == 0  # delivered: never sent again
        assert len(rx.got) == 3
        assert all(g.sign_ok for g in rx.got), [g.raw_query for g in rx.got]
        assert len({g.query["timestamp"] for g in rx.got}) == 3  # each try signed afresh
        assert all(g.query["access_token"] == "t0ken" for g in rx.got)
        body = rx.got[-1].body
        assert body["msgtype"] == "markdown" and body["markdown"]["title"] == "【逾期通知】事项 1"
        assert "[查看详情](https://attain.example.cn/x/1)" in body["markdown"]["text"]
        r = await client.get(f"{CHANNELS}/{ch['id']}/attempts", headers=keys.auth(keys.admin))
        assert [(a["result"], a["http_status"], a["errcode"]) for a in r.json()] == [
            ("retrying", 500, None), ("retrying", 200, 130101), ("delivered", 200, 0)]


async def test_a_wrong_secret_marks_the_channel_broken_until_the_admin_fixes_it(database_url, client, keys):
    with receiver(secret=SECRET, default=(200, {"errcode": 310000, "errmsg": "sign not match"})) as rx:
        ch = await _channel(client, keys, kind="dingtalk", url=rx.url, secret="wrong-secret")
        await _queue(database_url, 2)
        async with server_like(database_url) as sessions:
            await send(sessions)
            clock.advance(timedelta(hours=3))
            await send(sessions)
        assert len(rx.got) == 1 and rx.got[0].sign_ok is False
        listed = (await client.get(CHANNELS, headers=keys.auth(keys.admin))).json()
        assert [(c["id"], c["broken"]) for c in listed] == [(ch["id"], True)]
        assert "sign not match" in listed[0]["broken_reason"]
        rx.default = (200, {"errcode": 0, "errmsg": "ok"})
        r = await client.put(f"{CHANNELS}/{ch['id']}", headers=keys.auth(keys.admin),
                             json={"kind": "dingtalk", "url": rx.url, "secret": SECRET, "department": "jijiao"})
        assert r.status_code == 200 and r.json()["broken"] is False
        async with server_like(database_url) as sessions:
            await send(sessions)
        assert [g.sign_ok for g in rx.got] == [False, True, True]


async def test_sixty_notices_at_once_make_twenty_messages_the_last_a_digest(database_url, client, keys):
    with receiver(default=(200, {"errcode": 0, "errmsg": "ok"})) as rx:
        await _channel(client, keys, kind="wecom", url=rx.url)
        await _queue(database_url, 60)
        async with server_like(database_url) as sessions:
            assert await send(sessions) == 20
            assert await send(sessions) == 0
        assert len(rx.got) == 20
        assert all(g.body["msgtype"] == "markdown" for g in rx.got)
        digest = rx.got[-1].body["markdown"]["content"]
        assert "汇总" in digest and digest.count("【逾期通知】") == 41
        singles = {g.body["markdown"]["content"].split("\n")[0] for g in rx.got[:-1]}
        assert len(singles) == 19
        delivered = await sql(sessions, "SELECT count(*) FROM outbox WHERE state = 'delivered'")
        assert delivered[0][0] == 60


async def test_the_per_minute_limit_counts_what_was_sent_in_the_last_minute(database_url, client, keys):
    with receiver() as rx:
        await _channel(client, keys, kind="wecom", url=rx.url)
        await _queue(database_url, 15)
        async with server_like(database_url) as sessions:
            assert await send(sessions) == 15
            async with sessions() as s, s.begin():
                await reminders.notify(s, [_notice(i) for i in range(20, 30)])
            clock.advance(timedelta(seconds=20))
            assert await send(sessions) == 5  # 4 one by one, then the other 6 in one digest
            clock.advance(timedelta(seconds=50))
            async with sessions() as s, s.begin():
                await reminders.notify(s, [_notice(i) for i in range(40, 43)])
            assert await send(sessions) == 3  # a minute later there is room again
        assert len(rx.got) == 23
        assert "汇总" in rx.got[19].body["markdown"]["content"]


async def test_webhook_signature_and_payload(database_url, client, keys):
    with receiver(secret=SECRET) as rx:
        await _channel(client, keys, kind="webhook", url=rx.url, secret=SECRET)
        await _queue(database_url, 1)
        async with server_like(database_url) as sessions:
            await send(sessions)
    got = rx.got[0]
    assert got.sign_ok is True  # sha256=<hex HMAC-SHA256 of timestamp + "." + body>
    assert abs(int(got.headers["x-attain-timestamp"]) - clock.now().timestamp()) < 60
    notice = got.body["notifications"][0]
    assert notice["subject"] == {"kind": "deliverable", "code": "r03-1"}
    assert notice["recipient"] == {"kind": "department", "code": "jijiao"}
    assert notice["kind"] == "overdue" and notice["link"] == "https://attain.example.cn/x/1"


async def test_secrets_are_write_only_and_left_out_of_exports(database_url, client, keys):
    ch = await _channel(client, keys, kind="dingtalk", url="https://oapi.dingtalk.com/robot/send?access_token=x",
                        secret=SECRET)
    for r in (await client.get(CHANNELS, headers=keys.auth(keys.admin)),
              await client.get(f"{CHANNELS}/{ch['id']}/attempts", headers=keys.auth(keys.admin)),
              await client.put(f"{CHANNELS}/{ch['id']}", headers=keys.auth(keys.admin),
                               json={"kind": "dingtalk", "url": "ftp://x", "secret": SECRET, "department": "jijiao"}),
              await client.post(CHANNELS, headers=keys.auth(keys.admin),
                                json={"kind": "dingtalk", "url": "https://x", "secret": SECRET, "department": "nope"}),
              await client.post(CHANNELS, headers=keys.auth(keys.admin),
                                json={"kind": "dingtalk", "url": "https://x", "secret": SECRET, "unit": "370211",
                                      "role": "leader"})):
        assert SECRET not in r.text
    assert [t.name for t in tables() if "secret" in t.name] == []
    async with server_like(database_url) as sessions:
        revisions = await sql(sessions, "SELECT data FROM channel_revisions")
    assert revisions and all(SECRET not in str(r[0]) for r in revisions)


async def test_bad_channels_are_refused_with_stable_codes(client, keys):
    async def post(body: dict) -> tuple[int, str | None]:
        r = await client.post(CHANNELS, headers=keys.auth(keys.admin), json=body)
        return r.status_code, r.json().get("code")

    assert await post({"kind": "wecom", "url": "file:///etc/passwd", "department": "jijiao"}) == (422, "channel_url")
    assert await post({"kind": "wecom", "url": "https://x"}) == (422, "channel_target")
    assert await post({"kind": "wecom", "url": "https://x", "role": "king"}) == (422, "unknown_role")
    assert (await post({"kind": "sms", "url": "https://x", "role": "leader"}))[0] == 422
    r = await client.post(CHANNELS, headers=keys.auth(keys.bureau), json={"kind": "wecom", "url": "https://x",
                                                                           "role": "leader"})
    assert r.status_code == 403
    assert (await client.get(CHANNELS, headers=keys.auth(keys.admin))).json() == []


async def test_a_hanging_receiver_never_delays_an_api_request(database_url, client, keys):
    with receiver(delay=8.0) as rx:
        await _channel(client, keys, kind="wecom", url=rx.url)
        await _queue(database_url, 1)
        async with server_like(database_url) as sessions:
            sending = asyncio.create_task(send(sessions))
            while not rx.got:
                await asyncio.sleep(0.05)
            started = time.monotonic()
            for _ in range(3):
                r = await client.get("/api/v1/notifications", headers=keys.auth(keys.admin))
                assert r.status_code == 200
            assert time.monotonic() - started < 2.0
            assert not sending.done()
            await sending  # the 5 s timeout ends it
        r = await client.get(f"{CHANNELS}/1/attempts", headers=keys.auth(keys.admin))
        assert [(a["result"], a["error"]) for a in r.json()] == [("retrying", "timeout")]


async def test_quiet_hours_hold_deliveries_until_they_end(database_url, client, keys):
    from datetime import datetime

    from app.clock import SHANGHAI
    from app.services import outbox

    with receiver() as rx:
        await _channel(client, keys, kind="wecom", url=rx.url)
        await _queue(database_url, 2)
        async with server_like(database_url) as sessions, outbox.client() as http:
            clock.set_now(datetime(2026, 5, 4, 23, 30, tzinfo=SHANGHAI))
            assert await outbox.send_due(sessions, http, quiet_hours="22-08") == 0
            clock.set_now(datetime(2026, 5, 5, 7, 59, tzinfo=SHANGHAI))
            assert await outbox.send_due(sessions, http, quiet_hours="22-08") == 0
            clock.set_now(datetime(2026, 5, 5, 8, 0, tzinfo=SHANGHAI))
            assert await outbox.send_due(sessions, http, quiet_hours="22-08") == 2
        assert len(rx.got) == 2
