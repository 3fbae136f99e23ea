"""Connection-level defences of a real `attain serve`, over raw sockets: an answer sent before the body was read
closes the connection (no socket is held by a body nobody reads), stray bytes between requests are on the header
clock, request heads are bounded (431), and open connections are capped in total and per direct client address
(503 with Retry-After), trusted proxies aside. Attack sockets come from 127.0.0.2, the probe from 127.0.0.1."""

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import orjson
import psutil
import pytest
from pydantic import ValidationError

from app.settings import Settings
from bench.slow_clients import ATTACKER, held_for, post_unread_body
from tests.reliability.procs import Server, prepared

HEADER_LIMIT = 1.0
BASE_ENV = {"ATTAIN_HEADER_TIMEOUT_SECONDS": str(HEADER_LIMIT), "ATTAIN_BODY_TIMEOUT_SECONDS": "2"}


@pytest.fixture(scope="module")
async def tokens_and_url(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], str]:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('limits')}/attain.db"
    return await prepared(url, schools_per_district=0), url


async def _serve(url: str, tmp_path: Path, **env: str) -> Server:
    server = Server(url, tmp_path, env={**BASE_ENV, **env})
    await server.start()
    return server


@pytest.fixture(scope="module")
async def served(tokens_and_url: tuple[dict[str, str], str],
                 tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    """One server with the default limits for the tests that do not change them (its start is most of a test)."""
    server = await _serve(tokens_and_url[1], tmp_path_factory.mktemp("logs"), ATTAIN_MAX_BODY_BYTES="65536")
    try:
        yield server
    finally:
        server.stop()


def _split(answer: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


async def _get(port: int, *, source: str, extra: bytes = b"") -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: attain\r\n" + extra + b"Connection: close\r\n\r\n")
    try:
        async with asyncio.timeout(10):
            return await reader.read()
    finally:
        writer.close()


async def test_answers_to_unread_large_bodies_close_their_connections(
        served: Server, tokens_and_url: tuple[dict[str, str], str]) -> None:
    tokens = tokens_and_url[0]
    bearer = f"Authorization: Bearer {tokens['admin']}\r\n"
    cases = [("/healthz", "", 405), ("/api/v1/measurements", "", 401),
             ("/api/v1/measurements", bearer + "Content-Encoding: gzip\r\n", 415),
             ("/api/v1/measurements", bearer, 413)]
    for path, headers, status in cases:
        conns = [await post_unread_body(served.port, path, headers=headers) for _ in range(12)]
        async with httpx.AsyncClient(base_url=served.base, timeout=5) as probe:  # from 127.0.0.1
            assert (await probe.get("/healthz")).status_code == 200
        held = await asyncio.gather(*(held_for(*c, limit=10) for c in conns))
        for seconds, answer in held:
            assert answer.startswith(f"HTTP/1.1 {status} ".encode()), (path, answer[:300])
            assert b"connection: close" in answer.lower(), answer[:300]
            # Closed after the answer: not held for uvicorn's keep-alive timeout (5 s), let alone forever (before).
            assert seconds < 4, (path, seconds)


async def test_a_client_sending_a_large_body_still_reads_the_answer(served: Server) -> None:
    """Closing after the answer must not cost an honest client its 401: the server lingers before it closes."""
    async with httpx.AsyncClient(base_url=served.base, timeout=10) as c:
        for path, status in (("/api/v1/measurements", 401), ("/healthz", 405)):
            r = await c.post(path, content=b" " * 3_000_000, headers={"Content-Type": "application/json"})
            assert r.status_code == status and r.headers["connection"] == "close", (path, r.status_code)


async def test_bytes_between_requests_are_on_the_header_clock(served: Server) -> None:
    """A lone CRLF starts no request; sent every 0.3 s after an answer it must not keep the connection forever."""
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port, local_addr=(ATTACKER, 0))
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: attain\r\n\r\n")
    first = await reader.readuntil(b"}")
    assert first.startswith(b"HTTP/1.1 200 ")
    opened = time.monotonic()

    async def stray_bytes() -> None:
        for _ in range(100):
            writer.write(b"\r\n")
            await writer.drain()
            await asyncio.sleep(0.3)

    sender = asyncio.create_task(stray_bytes())
    held, answer = await held_for(reader, writer, opened, limit=15)
    sender.cancel()
    await asyncio.gather(sender, return_exceptions=True)
    assert held <= 2 * HEADER_LIMIT + 0.5, held
    assert answer.startswith(b"HTTP/1.1 408 ") and b"header_timeout" in answer


async def test_oversized_heads_are_refused_with_431(served: Server) -> None:
    one_long_line = b"X-Padding: " + b"a" * 20_000 + b"\r\n"
    many_lines = b"".join(b"X-Padding-%d: %s\r\n" % (i, b"b" * 1000) for i in range(80))  # 80 KB, none long
    long_target = b"GET /healthz?" + b"q" * 20_000 + b" HTTP/1.1\r\nHost: attain\r\n\r\n"
    for extra in (one_long_line, many_lines):
        status, headers, body = _split(await _get(served.port, source=ATTACKER, extra=extra))
        assert status == 431 and headers["content-type"] == "application/problem+json", (status, headers)
        assert orjson.loads(body)["code"] == "header_too_large"
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    writer.write(long_target)
    assert (await reader.read()).startswith(b"HTTP/1.1 431 ")
    writer.close()
    # Headers of the same total size in all but below the limits are still served.
    assert _split(await _get(served.port, source=ATTACKER, extra=b"X-Small: " + b"c" * 8000 + b"\r\n"))[0] == 200


async def test_an_endless_head_is_cut_off_without_buffering_it(served: Server) -> None:
    assert served.proc is not None
    process = psutil.Process(served.proc.pid)
    before = process.memory_info().rss
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port, local_addr=(ATTACKER, 0))
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: attain\r\n")
    sent = 0
    try:
        for _ in range(400):  # up to 100 MiB of header lines, 256 KiB at a time
            writer.write((b"X-Flood: " + b"z" * 1000 + b"\r\n") * 256)
            await writer.drain()
            sent += 1
    except ConnectionError:
        pass
    try:
        answer = await reader.read()
    except ConnectionError:
        answer = b""  # a flood still pouring in when the server closes gets a reset, which may eat the 431
    writer.close()
    assert sent < 400, "the server read 100 MiB of headers"
    assert answer in (b"",) or answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert process.memory_info().rss - before < 20 * 1024 * 1024
    assert _split(await _get(served.port, source=ATTACKER))[0] == 200


async def test_open_connections_are_capped_per_client_address(
        tokens_and_url: tuple[dict[str, str], str], tmp_path: Path) -> None:
    server = await _serve(tokens_and_url[1], tmp_path, ATTAIN_MAX_CONNECTIONS_PER_CLIENT="5",
                          ATTAIN_HEADER_TIMEOUT_SECONDS="30")
    try:
        idle = [await asyncio.open_connection("127.0.0.1", server.port, local_addr=(ATTACKER, 0))
                for _ in range(5)]
        status, headers, body = _split(await _get(server.port, source=ATTACKER))
        assert status == 503 and headers["retry-after"].isdigit(), (status, headers)
        assert orjson.loads(body)["code"] == "too_many_client_connections"
        # Other clients are served: another address, and 127.0.0.1 (a trusted proxy by default).
        for source in ("127.0.0.3", "127.0.0.1"):
            assert _split(await _get(server.port, source=source))[0] == 200, source
        for _, writer in idle:
            writer.close()
        await asyncio.sleep(0.3)
        assert _split(await _get(server.port, source=ATTACKER))[0] == 200
    finally:
        server.stop()


async def test_without_trusted_proxies_loopback_is_capped_and_the_total_too(
        tokens_and_url: tuple[dict[str, str], str], tmp_path: Path) -> None:
    server = await _serve(tokens_and_url[1], tmp_path, ATTAIN_MAX_CONNECTIONS_PER_CLIENT="3",
                          ATTAIN_MAX_CONNECTIONS="8", ATTAIN_TRUSTED_PROXIES="", ATTAIN_HEADER_TIMEOUT_SECONDS="30")
    try:
        idle = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(3)]
        assert _split(await _get(server.port, source="127.0.0.1"))[0] == 503
        idle += [await asyncio.open_connection("127.0.0.1", server.port, local_addr=(f"127.0.0.{n}", 0))
                 for n in (4, 5, 6, 7, 8)]  # 8 open in all
        status, headers, body = _split(await _get(server.port, source="127.0.0.9"))
        assert status == 503 and orjson.loads(body)["code"] == "too_many_connections" and "retry-after" in headers
        for _, writer in idle:
            writer.close()
        await asyncio.sleep(0.3)
        assert _split(await _get(server.port, source="127.0.0.9"))[0] == 200
    finally:
        server.stop()


def test_a_mistyped_trusted_proxy_stops_the_service_at_start() -> None:
    """Checked once at start-up, not at every connection (where it would refuse them all)."""
    assert Settings(trusted_proxies="10.0.0.0/8, ::1").trusted_proxies
    with pytest.raises(ValidationError, match="10.0.0.300"):
        Settings(trusted_proxies="127.0.0.1,10.0.0.300")
