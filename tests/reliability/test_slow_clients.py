"""Slow clients against a real `attain serve` subprocess with the limits set low (header read timeout 1 s, body
read timeout 2 s): half-sent headers and stalled bodies are cut off within twice the limit, 500 such connections
leave /healthz answering, overload beyond --limit-concurrency is a 503, and a client leaving mid-body is counted
as a disconnect (499), not as a server error. bench/slow_clients.py reports the latencies; nothing here is timed
beyond the cut-offs the contract states."""

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bench.slow_clients import held_for, open_half_headers, stalled_body
from tests.reliability.procs import Server, prepared

HEADER_LIMIT, BODY_LIMIT = 1.0, 2.0
LIMITS = {"ATTAIN_HEADER_TIMEOUT_SECONDS": str(HEADER_LIMIT), "ATTAIN_BODY_TIMEOUT_SECONDS": str(BODY_LIMIT),
          "ATTAIN_METRICS_PUBLIC": "true", "ATTAIN_LOG_LEVEL": "info"}


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[Server, dict[str, str]]]:
    url = f"sqlite+aiosqlite:///{tmp_path}/attain.db"
    tokens = await prepared(url, schools_per_district=0)
    server = Server(url, tmp_path, env=LIMITS)
    await server.start()
    try:
        yield server, tokens
    finally:
        server.stop()


async def _requests_by_status(base: str, route: str) -> dict[str, float]:
    async with httpx.AsyncClient(base_url=base) as c:
        text = (await c.get("/metrics")).text
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "attain_http_requests_total" and s.labels["route"] == route:
                out[s.labels["status"]] = s.value
    return out


async def test_half_sent_headers_are_cut_off_within_twice_the_limit(served: tuple[Server, dict[str, str]]) -> None:
    server, _ = served
    held, answer = await held_for(*await open_half_headers(server.port))
    assert HEADER_LIMIT * 0.9 <= held <= 2 * HEADER_LIMIT, held
    assert answer.startswith(b"HTTP/1.1 408 ") and b"header_timeout" in answer


async def test_headers_trickled_byte_by_byte_are_cut_off_too(served: tuple[Server, dict[str, str]]) -> None:
    """A byte every 0.1 s keeps the connection busy but never finishes the headers: the deadline is not reset."""
    server, _ = served
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    opened = time.monotonic()

    async def trickle() -> None:
        for byte in b"GET /healthz HTTP/1.1\r\nHost: attain\r\nX-Padding: " + b"a" * 100:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.1)

    sender = asyncio.create_task(trickle())
    held, answer = await held_for(reader, writer, opened)
    sender.cancel()
    await asyncio.gather(sender, return_exceptions=True)
    assert HEADER_LIMIT * 0.9 <= held <= 2 * HEADER_LIMIT, held
    assert answer.startswith(b"HTTP/1.1 408 ")


async def test_a_stalled_body_is_cut_off_with_408_and_nothing_stored(served: tuple[Server, dict[str, str]]) -> None:
    server, tokens = served
    route = "/api/v1/measurements"
    before = await _requests_by_status(server.base, route)
    held, answer = await held_for(*await stalled_body(server.port, tokens["admin"]))
    assert BODY_LIMIT * 0.9 <= held <= 2 * BODY_LIMIT, held
    assert answer.startswith(b"HTTP/1.1 408 ") and b"body_timeout" in answer
    after = await _requests_by_status(server.base, route)
    assert after.get("408", 0) == before.get("408", 0) + 1 and after.get("500", 0) == before.get("500", 0), after
    async with httpx.AsyncClient(base_url=server.base) as c:
        r = await c.get(route, headers={"Authorization": f"Bearer {tokens['admin']}"})
    assert r.json()["items"] == []


async def test_a_client_leaving_mid_body_is_a_disconnect(served: tuple[Server, dict[str, str]]) -> None:
    server, tokens = served
    route = "/api/v1/measurements"
    before = await _requests_by_status(server.base, route)
    _, writer, _ = await stalled_body(server.port, tokens["admin"])
    await asyncio.sleep(0.3)  # the route is reading the body
    writer.close()
    for _ in range(50):
        after = await _requests_by_status(server.base, route)
        if after != before:
            break
        await asyncio.sleep(0.1)
    assert after.get("499", 0) == before.get("499", 0) + 1, after
    assert after.get("500", 0) == before.get("500", 0), after
    log = server.log_tail(200)
    assert "client_disconnected" in log and "unhandled_error" not in log, log


async def test_500_half_sent_requests_leave_healthz_answering(served: tuple[Server, dict[str, str]]) -> None:
    server, _ = served
    slow = [await open_half_headers(server.port) for _ in range(500)]
    async with httpx.AsyncClient(base_url=server.base, timeout=5) as c:
        assert (await c.get("/healthz")).status_code == 200
    held = await asyncio.gather(*(held_for(*conn) for conn in slow))
    assert max(h for h, _ in held) <= 2 * HEADER_LIMIT, sorted(h for h, _ in held)[-5:]
    assert all(d.startswith(b"HTTP/1.1 408 ") for _, d in held)


async def test_overload_beyond_the_concurrency_limit_is_503(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/attain.db"
    await prepared(url, schools_per_district=0)
    server = Server(url, tmp_path, env={**LIMITS, "ATTAIN_HEADER_TIMEOUT_SECONDS": "30",
                                        "ATTAIN_LIMIT_CONCURRENCY": "20"})
    await server.start()
    try:
        slow = [await open_half_headers(server.port) for _ in range(25)]
        async with httpx.AsyncClient(base_url=server.base, timeout=5) as c:
            r = await c.get("/healthz")
        assert r.status_code == 503, r.text
        for _, writer, _ in slow:
            writer.close()
        await asyncio.sleep(0.5)
        async with httpx.AsyncClient(base_url=server.base, timeout=5) as c:
            assert (await c.get("/healthz")).status_code == 200
    finally:
        server.stop()
