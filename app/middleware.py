"""Pure-ASGI middleware: request ids and access logs (never the Authorization header)."""

import hashlib
import time
import uuid

import structlog
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import i18n, metrics

log = structlog.get_logger("attain.access")
# nginx's "client closed request": counted apart from every status the server chose to answer.
CLIENT_CLOSED = 499


class RequestContext:
    """Give every request an id (X-Request-ID, echoed back), log one line and count it when it ends."""

    def __init__(self, app: ASGIApp, *, api_prefix: str = "/api/v1") -> None:
        self.app = app
        self.api_prefix = api_prefix

    def _template(self, scope: Scope) -> str:
        # Routers keep their unprefixed templates; the prefix they were included under is the API's.
        path = getattr(scope.get("route"), "path", None)
        if path is None:
            return "unmatched"
        if scope["path"].startswith(self.api_prefix + "/") and not path.startswith(self.api_prefix):
            return self.api_prefix + path
        return str(path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # The id in logs and revisions is always the server's own; a client's X-Request-ID is kept beside it.
        request_id = uuid.uuid4().hex
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        client_id = incoming if 0 < len(incoming) <= 64 and incoming.isprintable() else None
        state = scope.setdefault("state", {})
        state["request_id"], state["client_request_id"] = request_id, client_id
        structlog.contextvars.bind_contextvars(request_id=request_id)
        if client_id:
            structlog.contextvars.bind_contextvars(client_request_id=client_id)
        started = time.perf_counter()
        status = 500
        responded = gone = False

        async def _receive() -> Message:
            nonlocal gone
            message = await receive()
            if message["type"] == "http.disconnect" and not responded:
                gone = True
            return message

        async def _send(message: Message) -> None:
            nonlocal status, responded
            if message["type"] == "http.response.start":
                status, responded = message["status"], True
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            await self.app(scope, _receive, _send)
        except ClientDisconnect:
            gone = True  # the client left mid-body: not a server error, nothing to answer
        finally:
            if gone and status not in (408,):
                status = CLIENT_CLOSED
            seconds = time.perf_counter() - started
            metrics.observe_request(method=scope["method"], route=self._template(scope), status=status,
                                    seconds=seconds)
            event = "client_disconnected" if status == CLIENT_CLOSED else "request"
            log.info(event, method=scope["method"], path=scope["path"], status=status, ms=round(seconds * 1000, 1))
            structlog.contextvars.unbind_contextvars("request_id", "client_request_id")


class ETags:
    """Strong ETags on successful GETs, and 304 when If-None-Match matches (saves re-sending big reports)."""

    def __init__(self, app: ASGIApp, *, skip: tuple[str, ...] = ("/metrics",)) -> None:
        self.app = app
        self.skip = skip

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or scope["path"].startswith(self.skip):
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def _send(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                if message["status"] != 200:
                    await send(message)
                return
            if start is None or start["status"] != 200:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = b"".join(chunks)
            etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            headers = [(k, v) for k, v in start["headers"] if k.lower() not in (b"content-length", b"etag")]
            headers.append((b"etag", etag.encode()))
            wanted = dict(scope["headers"]).get(b"if-none-match", b"").decode("latin-1")
            if etag in [t.strip().removeprefix("W/") for t in wanted.split(",")] or wanted.strip() == "*":
                await send({"type": "http.response.start", "status": 304, "headers": headers})
                await send({"type": "http.response.body", "body": b""})
                return
            headers.append((b"content-length", str(len(body)).encode()))
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, _send)


class Language:
    """Serve each request in the language its Accept-Language prefers (zh or en), the setting otherwise."""

    def __init__(self, app: ASGIApp, *, default: i18n.Lang) -> None:
        self.app = app
        self.default = default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = dict(scope["headers"]).get(b"accept-language", b"").decode("latin-1")
        lang = i18n.negotiate(header, self.default)
        scope.setdefault("state", {})["lang"] = lang

        async def _send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.setdefault("headers", [])
                headers.append((b"content-language", b"zh-Hans" if lang == "zh" else b"en"))
                headers.append((b"vary", b"Accept-Language"))
            await send(message)

        token = i18n.use(lang)
        try:
            await self.app(scope, receive, _send)
        finally:
            i18n.reset(token)
