"""Graceful shutdown: SIGTERM with large batches in flight loses nothing and refuses newcomers.

`attain serve` receives several 5,000-value batches at once; as soon as every body has been sent and read by the
server (its receive queues in /proc/net/tcp are empty), it gets SIGTERM. Asserted: new connections are refused
while the in-flight requests are still being worked on; every in-flight request is answered 200 with all its
values created; the process exits with code 0 within uvicorn's graceful timeout (30 s, app/cli.py); after a
restart every value of those batches is there, one revision each.
"""

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.reliability.procs import (
    MEASUREMENTS,
    RATE,
    Keyspace,
    Server,
    accepted_sockets,
    fresh_postgres,
    postgres_reachable,
    prepared,
    revision_counts,
    schools,
    stored_values,
    wait_for,
)

SCHOOLS_PER_DISTRICT = 500  # 5,000 schools: one batch is one year of all of them
BATCH = 5000
IN_FLIGHT = 3  # SQLite runs them one after another: 3 × ~2.5 s stays inside its 10 s busy timeout
GRACEFUL_TIMEOUT_S = 30  # timeout_graceful_shutdown in app/cli.py


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/shutdown.db"
        return
    if not await asyncio.to_thread(postgres_reachable):
        pytest.skip("no PostgreSQL server reachable (ATTAIN_TEST_POSTGRES_URL, else 127.0.0.1:5432)")
    async with fresh_postgres("attain_shutdown") as url:
        yield url


async def post_big(base: str, token: str, values: list[dict[str, Any]], sent: asyncio.Event) -> httpx.Response:
    """POST one batch on a connection of its own; `sent` is set once the whole body is on the wire."""
    async def trace(event: str, _info: dict[str, Any]) -> None:
        if event == "http11.send_request_body.complete":
            sent.set()

    async with httpx.AsyncClient(base_url=base, timeout=GRACEFUL_TIMEOUT_S + 30) as client:
        return await client.post(MEASUREMENTS, json={"values": values}, extensions={"trace": trace},
                                 headers={"Authorization": f"Bearer {token}"})


async def all_read(port: int) -> bool:
    sockets = accepted_sockets(port)
    return len(sockets) >= IN_FLIGHT and all(unread == 0 for _, unread in sockets)


async def refuses_new_connections(base: str) -> bool:
    """True when a fresh connection is refused (the listening socket is closed)."""
    async with httpx.AsyncClient(base_url=base, timeout=2) as client:
        try:
            await client.get("/healthz")
        except httpx.ConnectError:
            return True
        except httpx.TransportError:
            return False  # accepted, then dropped: not a clean refusal
        return False


async def test_sigterm_finishes_in_flight_requests(database_url: str, tmp_path: Path) -> None:
    keys = await prepared(database_url, schools_per_district=SCHOOLS_PER_DISTRICT)
    token = keys["admin"]
    space = Keyspace(schools(SCHOOLS_PER_DISTRICT), BATCH)
    server = Server(database_url, tmp_path)
    try:
        await server.start()
        sent = [asyncio.Event() for _ in range(IN_FLIGHT)]
        posts = [asyncio.create_task(post_big(server.base, token, space.values(b), sent[b]))
                 for b in range(IN_FLIGHT)]
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in sent)), timeout=30)
        # The client has sent everything; wait until the server has read it all (nothing left in its receive
        # queues), so each request is being worked on, not waiting unread in the kernel.
        read = await wait_for(lambda: all_read(server.port), timeout=30, step=0.01)
        assert read is not None, f"the server did not read the requests: {accepted_sockets(server.port)}"
        assert not any(p.done() for p in posts), "a batch was answered before SIGTERM: nothing left in flight"
        server.signal(signal.SIGTERM)
        sigterm = time.monotonic()

        # Newcomers are refused while the batches are still being worked on.
        refused_after = None
        while not all(p.done() for p in posts) and time.monotonic() - sigterm < GRACEFUL_TIMEOUT_S:
            if await refuses_new_connections(server.base):
                refused_after = time.monotonic() - sigterm
                break
            await asyncio.sleep(0.05)
        still_in_flight = sum(not p.done() for p in posts)

        answers = await asyncio.gather(*posts, return_exceptions=True)
        answered_after = time.monotonic() - sigterm
        code = await server.wait_exit(timeout=GRACEFUL_TIMEOUT_S + 10)
        exited_after = time.monotonic() - sigterm

        # Every batch that was in flight must be stored: restart and read it back through the API.
        await server.start()
        async with httpx.AsyncClient(base_url=server.base, timeout=60) as client:
            stored = await stored_values(client, token, RATE)
        revisions = await revision_counts(database_url, RATE)
    finally:
        await asyncio.to_thread(server.stop)

    backend = database_url.split(":")[0]
    statuses = [a.status_code if isinstance(a, httpx.Response) else type(a).__name__ for a in answers]
    print(f"\n[shutdown {backend}] {IN_FLIGHT} batches of {BATCH} in flight at SIGTERM; new connections refused "
          f"{refused_after if refused_after is None else f'{refused_after:.2f} s'} after it ({still_in_flight} "
          f"batches still in flight then); answers {statuses} within {answered_after:.2f} s; exit code {code} "
          f"after {exited_after:.2f} s")
    problems = []
    for b, a in enumerate(answers):
        if not isinstance(a, httpx.Response):
            problems.append(f"batch {b}: no answer ({type(a).__name__}: {a})")
        elif a.status_code != 200 or a.json()["counts"]["created"] != BATCH:
            problems.append(f"batch {b}: {a.status_code} {a.text[:300]}")
    if refused_after is None or still_in_flight == 0:
        problems.append(f"new connections were not seen refused while requests were in flight "
                        f"(refused after {refused_after}, in flight then: {still_in_flight})")
    if code != 0:
        problems.append(f"exit code {code} (wanted 0) after SIGTERM")
    if exited_after > GRACEFUL_TIMEOUT_S:
        problems.append(f"exited {exited_after:.1f} s after SIGTERM, beyond the {GRACEFUL_TIMEOUT_S} s graceful "
                        "timeout")
    for b in range(IN_FLIGHT):
        missing = [k for k in space.expected(b) if k not in stored]
        if missing:
            problems.append(f"batch {b}: {len(missing)} of {BATCH} values missing after the restart")
    if set(revisions) != set(stored) or set(revisions.values()) != {1}:
        problems.append("the revision table does not hold exactly one revision per stored value")
    assert not problems, "\n".join(problems)
