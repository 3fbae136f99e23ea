"""The outbox sender (SPEC "Supervision", "Channels"): takes one channel at a time, sends what is due (at most 20
messages a minute, the rest as one digest), signs every try afresh, records every attempt, backs off.

Deliveries are at least once: a row is marked delivered only after the channel accepted it, so a sender killed
between the two sends that message again once its lease runs out — and never after the acceptance was recorded.
Nothing here runs inside an API request: a slow or hanging receiver delays only this loop (5 s per request).
"""

import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import clock
from app.db import outbox as store
from app.domain.channels import (
    BACKOFF,
    TIMEOUT_SECONDS,
    ChannelKind,
    Message,
    Result,
    Verdict,
    dingtalk_url,
    judge,
    payload,
    split_for_rate,
    webhook_signature,
)
from app.domain.quiet import in_quiet_hours
from app.metrics import DELIVERIES

log = structlog.get_logger()
LEASE = timedelta(minutes=5)


def client() -> httpx.AsyncClient:
    """The one outbound client: 5 s timeouts on every phase, redirects never followed, no environment proxies."""
    return httpx.AsyncClient(timeout=httpx.Timeout(TIMEOUT_SECONDS), follow_redirects=False, trust_env=False)


def _notice(row: Any) -> dict[str, Any]:
    return {"id": row.notification_id, "kind": row.kind, "subject": {"kind": row.subject_kind,
                                                                      "code": row.subject_code},
            "recipient": {"kind": row.recipient_kind, "code": row.recipient_code}, "title": row.title,
            "body": row.body, "link": row.link, "due_day": row.due_day.isoformat(), "seq": row.seq,
            "created_at": row.created_at.isoformat()}


def single(row: Any) -> Message:
    return Message(row.title, row.body, row.link, (_notice(row),))


def digest(rows: list[Any]) -> Message:
    """One message standing for many: a line per notice, each with its link."""
    lines = [f"- {r.title}" + (f"（{r.link}）" if r.link else "") for r in rows]
    return Message(f"【汇总】待办提醒 {len(rows)} 条", "\n".join(lines), None, tuple(_notice(r) for r in rows))


async def post(http: httpx.AsyncClient, kind: ChannelKind, url: str, secret: str | None, m: Message, *, tries: int
               ) -> Verdict:
    """Send one message, signed for this very try, and judge the answer. Errors never carry the URL (a robot's
    access token is in it) nor the secret."""
    body = payload(kind, m)
    headers = {"Content-Type": "application/json; charset=utf-8"}
    now = clock.now()
    target = url
    if kind == ChannelKind.DINGTALK:
        target = dingtalk_url(url, secret, int(now.timestamp() * 1000))
    elif kind == ChannelKind.WEBHOOK and secret:
        stamp = str(int(now.timestamp()))
        headers["X-Attain-Timestamp"] = stamp
        headers["X-Attain-Signature"] = webhook_signature(secret, stamp, body)
    try:
        answer = await http.post(target, content=body, headers=headers)
    except httpx.TimeoutException:
        return judge(kind, None, b"", tries=tries, error="timeout")
    except httpx.HTTPError as e:
        return judge(kind, None, b"", tries=tries, error=type(e).__name__)
    return replace(judge(kind, answer.status_code, answer.content[:65536], tries=tries),
                   http_status=answer.status_code)


async def _record(sessions: async_sessionmaker[AsyncSession], ch: store.Claimed, rows: list[Any], v: Verdict,
                  *, digest_: bool) -> None:
    now = clock.now()
    pairs = [(r.id, r.tries + 1) for r in rows]
    next_at: datetime | None = None
    if v.result == Result.RETRYING:
        next_at = now + BACKOFF[min(max(rows[0].tries, 0), len(BACKOFF) - 1)]
    async with sessions() as session, session.begin():
        await store.record(session, channel_id=ch.id, rows=pairs, result=v.result.value, next_at=next_at,
                           http_status=v.http_status, errcode=v.errcode, error=v.error, digest=digest_,
                           message=uuid.uuid4().hex, now=now)
        if v.result == Result.BROKEN:
            await store.mark_broken(session, ch.id, v.error or "broken")
    DELIVERIES.labels(channel_kind=ch.kind, result=v.result.value).inc()
    if v.result != Result.DELIVERED:
        log.warning("delivery not accepted", channel=ch.id, channel_kind=ch.kind, result=v.result.value,
                    errcode=v.errcode, error=v.error, rows=len(rows))


async def send_channel(sessions: async_sessionmaker[AsyncSession], http: httpx.AsyncClient, ch: store.Claimed
                       ) -> int:
    """Send what the claimed channel has due; the number of messages sent."""
    async with sessions() as session, session.begin():
        rows = await store.due_rows(session, ch.id, now=clock.now())
    kind = ChannelKind(ch.kind)
    singles, rest = split_for_rate(len(rows), ch.sent_last_minute)
    sent = 0
    for row in rows[:singles]:
        v = await post(http, kind, ch.url, ch.secret, single(row), tries=row.tries + 1)
        await _record(sessions, ch, [row], v, digest_=False)
        sent += 1
        if v.result == Result.BROKEN:
            return sent
    if rest and rows[singles:]:
        group = rows[singles:]
        v = await post(http, kind, ch.url, ch.secret, digest(group), tries=max(r.tries for r in group) + 1)
        await _record(sessions, ch, group, v, digest_=True)
        sent += 1
    return sent


async def send_due(sessions: async_sessionmaker[AsyncSession], http: httpx.AsyncClient, *,
                   quiet_hours: str | None = None) -> int:
    """One pass over every channel with deliveries due; the number of messages sent."""
    if in_quiet_hours(quiet_hours, clock.now()):
        return 0
    sent = 0
    seen: set[int] = set()
    async with sessions() as holder:  # holds the channels' advisory locks on PostgreSQL
        while True:
            async with sessions() as session, session.begin():
                ch = await store.claim_channel(session, holder, now=clock.now(), lease=LEASE, skip=seen)
            if ch is None:
                break
            seen.add(ch.id)
            try:
                sent += await send_channel(sessions, http, ch)
            finally:
                async with sessions() as session, session.begin():
                    await store.release(session, holder, ch.id)
        await holder.commit()
    return sent
