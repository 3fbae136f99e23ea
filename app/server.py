"""`attain serve`'s HTTP server: uvicorn with a header read timeout, which uvicorn itself does not have.

uvicorn times idle keep-alive connections (5 s) but waits forever for a request whose headers never end, so a
few hundred clients sending half a request line hold a few hundred connections open. Its `http` option takes a
protocol class; this one starts a timer when a connection opens (and when a keep-alive connection's next request
begins) and closes the connection with 408 when the headers are not complete by then. The body is timed by
app.guards.BodyDeadline, in the ASGI app, where a proper problem document can be answered.
"""

import asyncio
import logging
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.settings import Settings, get_settings

log = logging.getLogger("attain.server")

_BODY = (b'{"type":"https://attain.qingdao.example/problems/request-timeout","title":"Request Timeout","status":408,'
         b'"code":"header_timeout","detail":"The request headers were not received in time."}')
_408 = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/problem+json\r\n"
        b"content-length: " + str(len(_BODY)).encode() + b"\r\nconnection: close\r\n\r\n" + _BODY)


class HeaderTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, closing connections whose request headers take too long."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Read from the environment in each worker process (uvicorn spawns workers with an import string).
        self.header_timeout = get_settings().header_timeout_seconds
        self._header_timer: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        log.info("header_timeout client=%s seconds=%s", self.client, self.header_timeout)
        self.transport.write(_408)
        self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()  # from the first byte the client may send, not from its first byte sent

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()  # a keep-alive connection's next request: its own deadline

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


def run(settings: Settings, *, host: str, port: int, workers: int) -> None:
    """Serve the app until SIGTERM/SIGINT."""
    uvicorn.run(
        "app.main:create_app", factory=True, host=host, port=port, workers=workers,
        http="app.server:HeaderTimeoutProtocol",
        limit_concurrency=settings.limit_concurrency or None,
        log_level=settings.log_level, access_log=False, timeout_graceful_shutdown=30,
    )
