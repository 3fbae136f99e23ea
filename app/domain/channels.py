"""Outbound channels: how each kind is addressed, signed and judged (SPEC "Supervision", "Channels").

DingTalk signs a robot call with `timestamp` (ms) and `sign` = URL-encoded base64 of HMAC-SHA256 over
`timestamp + "\\n" + secret`, keyed by the secret; a generic webhook carries `X-Attain-Timestamp` and
`X-Attain-Signature: sha256=<hex HMAC-SHA256 of timestamp + "." + body>`. DingTalk and WeCom answer 200 with an
`errcode`; anything but 0 is a failure.
"""

import base64
import hashlib
import hmac
import json
import urllib.parse
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any


class ChannelKind(StrEnum):
    WEBHOOK = "webhook"
    DINGTALK = "dingtalk"
    WECOM = "wecom"


class Result(StrEnum):
    DELIVERED = "delivered"
    RETRYING = "retrying"
    FAILED = "failed"
    BROKEN = "broken"


MAX_TRIES = 8
# Waits after each failed try: 11 minutes doubling, 7 waits ≈ 23.3 hours before the 8th and last try.
BACKOFF = tuple(timedelta(minutes=11 * 2**n) for n in range(MAX_TRIES - 1))
PER_MINUTE = 20
TIMEOUT_SECONDS = 5.0
# Answers that say the address or the secret is wrong: retrying cannot help; the admin must fix the channel.
BROKEN_ERRCODES = {
    ChannelKind.DINGTALK: frozenset({300001, 300005, 310000, 400101, 400102}),
    ChannelKind.WECOM: frozenset({93000, 40001, 40014, 40058}),
}
BROKEN_HTTP = frozenset({401, 403, 404, 410})


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's robot signature: base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}")), URL-encoded."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return urllib.parse.quote_plus(base64.b64encode(digest).decode())


def dingtalk_url(url: str, secret: str | None, timestamp_ms: int) -> str:
    """The robot URL with `timestamp` and `sign` appended (unchanged without a secret)."""
    if not secret:
        return url
    joiner = "&" if urllib.parse.urlsplit(url).query else "?"
    return f"{url}{joiner}timestamp={timestamp_ms}&sign={dingtalk_sign(secret, timestamp_ms)}"


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex>` of HMAC-SHA256 over timestamp + "." + body."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={mac}"


@dataclass(frozen=True, slots=True)
class Message:
    """One message to send: a single notice or a digest of several."""

    title: str
    body: str
    link: str | None
    notices: tuple[dict[str, Any], ...]


def payload(kind: ChannelKind, m: Message) -> bytes:
    """The JSON body for the channel: markdown for the robots, the notices themselves for a webhook."""
    if kind == ChannelKind.WEBHOOK:
        data: dict[str, Any] = {"title": m.title, "body": m.body, "link": m.link, "notifications": list(m.notices)}
    else:
        text = f"### {m.title}\n\n{m.body}" + (f"\n\n[查看详情]({m.link})" if m.link else "")
        data = ({"msgtype": "markdown", "markdown": {"title": m.title, "text": text}} if kind == ChannelKind.DINGTALK
                else {"msgtype": "markdown", "markdown": {"content": text}})
    return json.dumps(data, ensure_ascii=False, default=str).encode()


@dataclass(frozen=True, slots=True)
class Verdict:
    result: Result
    errcode: int | None = None
    error: str | None = None
    http_status: int | None = None


def judge(kind: ChannelKind, status: int | None, answer: bytes, *, tries: int, error: str | None = None) -> Verdict:
    """What an answer (or a transport error, status None) means for a delivery on its `tries`-th try."""
    errcode: int | None = None
    if status is not None and 200 <= status < 300:
        if kind == ChannelKind.WEBHOOK:
            return Verdict(Result.DELIVERED)
        try:
            parsed = json.loads(answer or b"{}")
            errcode = int(parsed.get("errcode", 0)) if isinstance(parsed, dict) else None
            errmsg = str(parsed.get("errmsg", ""))[:200] if isinstance(parsed, dict) else ""
        except (ValueError, TypeError):
            errcode, errmsg = None, "unreadable answer"
        if errcode == 0:
            return Verdict(Result.DELIVERED, errcode=0)
        if errcode in BROKEN_ERRCODES.get(kind, frozenset()):
            return Verdict(Result.BROKEN, errcode=errcode, error=errmsg)
        error = errmsg or "unexpected answer"
    elif status in BROKEN_HTTP or (status is not None and 300 <= status < 400):
        # A redirect is never followed: the channel's URL is wrong.
        return Verdict(Result.BROKEN, error=f"HTTP {status}")
    elif status is not None:
        error = f"HTTP {status}"
    return Verdict(Result.FAILED if tries >= MAX_TRIES else Result.RETRYING, errcode=errcode, error=error)


def split_for_rate(pending: int, sent_last_minute: int) -> tuple[int, bool]:
    """How many pending notices go one by one now, and whether the rest go as one digest: at most PER_MINUTE
    messages a minute per channel, the digest counted among them."""
    room = PER_MINUTE - sent_last_minute
    if room <= 0:
        return 0, False
    if pending <= room:
        return pending, False
    return room - 1, True
