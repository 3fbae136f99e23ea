"""ASGI guards in front of every route: what no route should ever see is refused here, once.

- A path or query parameter holding NUL or another control character: 400 `control_characters` (no code, name,
  period, date or cursor contains one; PostgreSQL cannot even compare text with NUL).
- A body sent with a Content-Encoding other than identity: 415 `unsupported_content_encoding` (attain does not
  inflate bodies; reading gzip as text would answer "invalid UTF-8", which sends the client the wrong way).
- A body that is not complete within `body_timeout` seconds of the request's start: 408 `body_timeout`, and the
  connection is closed (the route sees a disconnect and stores nothing). A multipart upload (evidence files) is
  given max(`body_timeout`, its declared size ÷ 256 KiB/s).
"""

import asyncio
import time
from urllib.parse import unquote_plus

import structlog
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.domain.evidence import MAX_REQUEST_BYTES, upload_deadline
from app.domain.text import CONTROL
from app.errors import TYPE_BASE, ProblemResponse
from app.i18n import Message as Words
from app.i18n import _

log = structlog.get_logger("attain.guards")


def _problem(status: int, slug: str, title: Words, code: str, detail: Words, *,
             close: bool = False) -> ProblemResponse:
    # Rendered in the request's language: the Language middleware runs outside this guard.
    body = {"type": TYPE_BASE + slug, "title": str(title), "status": status, "code": code, "detail": str(detail)}
    return ProblemResponse(body, status_code=status, headers={"Connection": "close"} if close else None)


def _refusal(scope: Scope) -> ProblemResponse | None:
    query = scope.get("query_string", b"").decode("latin-1")
    if CONTROL.search(scope["path"]) or (query and CONTROL.search(unquote_plus(query, errors="replace"))):
        return _problem(400, "bad-request", _("Unreadable request"), "control_characters",
                        _("The path or a query parameter contains a control character (e.g. %00); none is "
                          "allowed."))
    for name, value in scope["headers"]:
        if name == b"content-encoding" and value.strip().lower() not in (b"", b"identity"):
            shown = value.decode("latin-1")[:40]
            return _problem(415, "unsupported-media-type", _("Unsupported content encoding"),
                            "unsupported_content_encoding",
                            _("Content-Encoding '{encoding}' is not accepted; send the body uncompressed.",
                              encoding=shown))
    return None


def _body_timeout(scope: Scope, floor: float) -> float:
    headers = dict(scope["headers"])
    declared = headers.get(b"content-length", b"")
    if headers.get(b"content-type", b"").lower().startswith(b"multipart/form-data") and declared.isdigit():
        return upload_deadline(min(int(declared), MAX_REQUEST_BYTES), floor_seconds=floor)
    return floor


class InputGuard:
    """Refuse control characters in paths and queries, compressed bodies, and bodies that arrive too slowly."""

    def __init__(self, app: ASGIApp, *, body_timeout: float) -> None:
        self.app = app
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refused = _refusal(scope)
        if refused is not None:
            await refused(scope, receive, send)
            return
        # From the route's first read, not the request's start: time the server itself spends first (auth, a
        # lock) is not the client's slowness.
        deadline: float | None = None
        timeout = _body_timeout(scope, self.body_timeout)
        body_done = False
        started = answered = False

        async def _receive() -> Message:
            nonlocal body_done, answered, deadline
            if body_done or answered:
                return await receive()  # after the body: waiting for a disconnect is not reading slowly
            if deadline is None:
                deadline = time.monotonic() + timeout
            try:
                async with asyncio.timeout(max(deadline - time.monotonic(), 0)):
                    message = await receive()
            except TimeoutError:
                log.info("body_timeout", path=scope["path"], seconds=timeout)
                if not started:
                    answered = True
                    await _problem(408, "request-timeout", _("Request Timeout"), "body_timeout",
                                   _("The request body was not received within {seconds:g} s.",
                                     seconds=timeout), close=True)(scope, receive, send)
                return {"type": "http.disconnect"}
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        async def _send(message: Message) -> None:
            nonlocal started
            if answered:
                return  # the 408 went out; what the route answers to its "disconnect" goes nowhere
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, _receive, _send)
        except ClientDisconnect:
            if not answered:
                raise
