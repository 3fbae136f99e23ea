"""`attain serve`'s HTTP server: uvicorn with the connection-level defences uvicorn itself does not have.

uvicorn's httptools protocol is used as it is, with these additions (`http` takes a protocol class):

- A header read timeout. uvicorn times idle keep-alive connections (5 s) but waits forever for a request whose
  headers never end, and any byte a client sends between requests (even a lone CRLF, which starts no request)
  stops its keep-alive timer for good. A timer starts when a connection opens and at the first byte after an
  answer, and the connection is closed with 408 when the headers are not complete by then; trickling does not
  reset it.
- Bounded request heads (app.connections): 431 once a line or the whole head is over its limit, counted on the
  raw bytes as they arrive, so a head of hundreds of megabytes is never buffered.
- Capped open connections, in all and per direct client address: 503 with Retry-After beyond, at once.
- A connection whose answer is sent before its request body was read in full (a 405, 401, 413 or 415 to a large
  POST) is closed after the answer: keeping it alive would mean reading and dropping the rest of a body nobody
  wants, with no timer running — uvicorn stops its keep-alive timer at every byte received.

Refusals are written by the protocol itself and followed by a short lingering close: the write side is shut, what
the client still sends is read and dropped (at most LINGER_BYTES for at most LINGER_SECONDS), so the client
reads the answer before the connection ends instead of a reset. The body is timed by app.guards.InputGuard, in
the ASGI app, where a proper problem document can be answered.
"""

import asyncio
import logging
from functools import lru_cache
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from app import connections
from app.connections import ClientCounts, Limits
from app.settings import Settings, get_settings

log = logging.getLogger("attain.server")

LINGER_SECONDS = 1.0
LINGER_BYTES = 256 * 1024
# The request line's own bytes beside the target: method, spaces, "HTTP/1.1", CRLF.
_REQUEST_LINE_EXTRA = 20

_clients = ClientCounts()


@lru_cache(maxsize=1)
def _limits() -> Limits:
    # Read from the environment in each worker process (uvicorn spawns workers with an import string), once.
    return Limits.of(get_settings())


class GuardedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with header timeouts, bounded heads, connection caps and no held bodies."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = _limits()
        self._header_timer: asyncio.TimerHandle | None = None
        self._counted_as: str | None = None  # the client address this connection is counted under
        self._idle = True  # no request begun since the connection opened or the last answer was sent
        self._in_head = False
        self._head_bytes = 0
        self._lingering = False
        self._dropped = 0
        self._close_after_answer = False

    # ------------------------------------------------------------------ timers and refusals

    def _arm(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.limits.header_timeout, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or self._lingering:
            return
        if self.cycle is not None and not self.cycle.response_complete:
            self._arm()  # a pipelined request's head, behind an answer still being sent: not now
            return
        log.info("header_timeout client=%s seconds=%s", self.client, self.limits.header_timeout)
        self._refuse(connections.header_timeout(self.limits.lang))

    def _refuse(self, answer: bytes) -> None:
        """Send `answer`, stop counting this connection, and close it after a short lingering read."""
        self.transport.write(answer)
        self._linger()

    def _linger(self) -> None:
        """Shut the write side and close once the client is done, has sent LINGER_BYTES more, or LINGER_SECONDS
        have passed: closing with unread bytes would send a reset, which can destroy the answer unread."""
        self._disarm()
        self._lingering = True
        self.connections.discard(self)  # a connection on its way out holds no slot
        self._release()
        self.flow.resume_reading()  # reading may be paused on a body nobody reads
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)

    def _release(self) -> None:
        if self._counted_as is not None:
            _clients.release(self._counted_as)
            self._counted_as = None

    def _admit(self) -> bytes | None:
        """The refusal for a connection over a cap, or None (and the connection counted)."""
        limits = self.limits
        if limits.max_connections and len(self.connections) > limits.max_connections:
            return connections.server_busy(limits.lang)
        host = self.client[0] if self.client else None
        if limits.max_per_client and host is not None and host not in limits.trusted:
            if not _clients.admit(host, limits.max_per_client):
                return connections.client_busy(limits.lang, limits.max_per_client)
            self._counted_as = host
        return None

    # ------------------------------------------------------------------ asyncio.Protocol

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        refusal = self._admit()
        if refusal is not None:
            log.info("connection_refused client=%s open=%s", self.client, len(self.connections))
            self._refuse(refusal)
            return
        self._arm()  # from the first byte the client may send, not from its first byte sent

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            self._dropped += len(data)
            if self._dropped > LINGER_BYTES:
                self.transport.close()
            return
        if self._idle:
            self._arm()  # bytes after an answer: the next request's head is on the clock from now
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._in_head and not self._lingering and self._head_bytes > self.limits.max_header_bytes:
            self._refuse_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._release()
        super().connection_lost(exc)

    # ------------------------------------------------------------------ parser callbacks

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._idle, self._in_head, self._head_bytes = False, True, 0
        self._arm()  # a keep-alive connection's next request: its own deadline

    def on_headers_complete(self) -> None:
        self._disarm()
        self._in_head = False
        if self._lingering:
            return
        lines = [len(self.url) + _REQUEST_LINE_EXTRA, *(len(n) + len(v) + 4 for n, v in self.headers)]
        if max(lines) > self.limits.max_header_line or sum(lines) > self.limits.max_header_bytes:
            self._refuse_head()
            return
        super().on_headers_complete()
        if self.cycle is not None and self.cycle.scope is self.scope:
            self._close_if_body_unread(self.cycle)

    def _close_if_body_unread(self, cycle: RequestResponseCycle) -> None:
        """Answer `Connection: close`, and linger then close after the answer, when it starts before the request
        body is all in — or before the application has read the body it was sent (however fast it arrived: whether
        it is all in when the answer starts is a race the client should not be able to win)."""
        send, receive = cycle.send, cycle.receive
        has_body = any(k == b"transfer-encoding" or (k == b"content-length" and v.strip() not in (b"", b"0"))
                       for k, v in cycle.scope.get("headers", ()))
        read = {"all": not has_body}

        async def receive_noting() -> Any:
            message = await receive()
            if message.get("type") == "http.request" and not message.get("more_body", False):
                read["all"] = True
            return message

        async def send_then_close(message: Any) -> None:
            if message["type"] != "http.response.start" or (not cycle.more_body and read["all"]):
                await send(message)
                return
            cycle.keep_alive = False  # uvicorn writes `connection: close` ...
            await send(message)
            cycle.keep_alive = True  # ... but the closing is ours, after a lingering read (on_response_complete)
            self._close_after_answer = True

        cycle.send = send_then_close  # type: ignore[method-assign]
        cycle.receive = receive_noting  # type: ignore[method-assign]

    def on_body(self, body: bytes) -> None:
        if not self._lingering:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if not self._lingering:
            super().on_message_complete()

    def on_response_complete(self) -> None:
        if self._close_after_answer:
            self.server_state.total_requests += 1
            self._linger()
            return
        super().on_response_complete()
        self._idle = True

    def _refuse_head(self) -> None:
        log.info("header_too_large client=%s", self.client)
        limits = self.limits
        self._refuse(connections.header_too_large(limits.lang, limits.max_header_line, limits.max_header_bytes))


def run(settings: Settings, *, host: str, port: int, workers: int) -> None:
    """Serve the app until SIGTERM/SIGINT."""
    uvicorn.run(
        "app.main:create_app", factory=True, host=host, port=port, workers=workers,
        http="app.server:GuardedProtocol",
        limit_concurrency=settings.limit_concurrency or None,
        forwarded_allow_ips=settings.trusted_proxies,
        log_level=settings.log_level, access_log=False, timeout_graceful_shutdown=30,
    )
