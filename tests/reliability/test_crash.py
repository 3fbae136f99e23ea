"""Crash durability: every value acknowledged with 2xx survives kill -9 of the service, and no batch is half-stored.

Several clients stream 50-value batches (distinct keys, each with an Idempotency-Key) into `attain serve`; once
a number of batches has been acknowledged, the server gets SIGKILL while requests are in flight. After a restart
GET /measurements (all pages) must show every acknowledged value, every batch must be stored whole or not at all,
and the revision table must hold exactly one revision per stored value. Three kill/restart rounds run per
backend. At the end the unanswered batches are resent with their Idempotency-Keys (the lease is shortened to
2 s): a stored one must be replayed, an unstored one processed, so the retrying client ends with one effect each.
"""

import asyncio
import math
import random
import signal
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.reliability.procs import (
    MEASUREMENTS,
    RATE,
    Key,
    Keyspace,
    Server,
    fresh_postgres,
    postgres_reachable,
    prepared,
    revision_counts,
    schools,
    stored_values,
)

SCHOOLS_PER_DISTRICT = 50  # 500 schools × 36 years = 360 batches of 50
BATCH = 50
CLIENTS = 6
ROUNDS = 3
ACKS_PER_ROUND = 25
LEASE_SECONDS = 2


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/crash.db"
        return
    if not await asyncio.to_thread(postgres_reachable):
        pytest.skip("no PostgreSQL server reachable (ATTAIN_TEST_POSTGRES_URL, else 127.0.0.1:5432)")
    async with fresh_postgres("attain_crash") as url:
        yield url


@dataclass
class Stream:
    """What the clients know: acknowledged batches, and batches sent without a 2xx answer."""

    space: Keyspace
    token: str
    acked: dict[int, dict[str, int]] = field(default_factory=dict)
    unanswered: dict[int, str] = field(default_factory=dict)
    failed_while_up: dict[int, str] = field(default_factory=dict)  # no 2xx although the server was running
    in_flight: set[int] = field(default_factory=set)
    taken: set[int] = field(default_factory=set)
    next_batch: int = 0
    idem: dict[int, str] = field(default_factory=dict)

    def take(self) -> int | None:
        if self.next_batch >= self.space.batches:
            return None
        b, self.next_batch = self.next_batch, self.next_batch + 1
        self.taken.add(b)
        self.idem[b] = uuid.uuid4().hex
        return b

    async def post(self, client: httpx.AsyncClient, b: int) -> httpx.Response:
        return await client.post(MEASUREMENTS, json={"values": self.space.values(b)},
                                 headers={"Authorization": f"Bearer {self.token}", "Idempotency-Key": self.idem[b]})


@dataclass
class Kill:
    acked_before: int
    in_flight: int
    restart_s: float


async def stream_and_kill(server: Server, stream: Stream, *, acks: int) -> Kill:
    """Stream batches from CLIENTS tasks; SIGKILL the server once `acks` more batches were acknowledged."""
    target = len(stream.acked) + acks
    killed = asyncio.Event()

    async def client_task() -> None:
        async with httpx.AsyncClient(base_url=server.base, timeout=30) as client:
            while not killed.is_set():
                b = stream.take()
                if b is None:
                    return
                stream.in_flight.add(b)
                try:
                    r = await stream.post(client, b)
                except httpx.TransportError as exc:
                    # killed is set right after the SIGKILL, before any client can see the effect of it.
                    (stream.unanswered if killed.is_set() else stream.failed_while_up)[b] = type(exc).__name__
                    continue
                finally:
                    stream.in_flight.discard(b)
                if 200 <= r.status_code < 300:
                    stream.acked[b] = r.json()["counts"]
                else:
                    where = stream.unanswered if killed.is_set() else stream.failed_while_up
                    where[b] = f"{r.status_code} {r.text[:200]}"

    tasks = [asyncio.create_task(client_task()) for _ in range(CLIENTS)]
    deadline = time.monotonic() + 60
    while len(stream.acked) < target and time.monotonic() < deadline and not all(t.done() for t in tasks):
        await asyncio.sleep(0.002)
    assert len(stream.acked) >= target, f"only {len(stream.acked)} of {target} batches acknowledged in 60 s"
    await asyncio.sleep(random.uniform(0, 0.02))  # vary the phase the kill lands in
    acked_before, in_flight = len(stream.acked), len(stream.in_flight)
    server.signal(signal.SIGKILL)  # no await between the snapshot and the kill
    killed.set()
    await asyncio.to_thread(server.reap)
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=60)
    restart_s = await server.start()
    return Kill(acked_before, in_flight, restart_s)


def expected_keys(space: Keyspace) -> dict[Key, tuple[int, float]]:
    return {k: (b, v) for b in range(space.batches) for k, v in space.expected(b).items()}


async def check_store(server: Server, url: str, stream: Stream) -> dict[str, int]:
    """Acknowledged ⇒ present with its value; every batch whole or absent; one revision per stored value."""
    async with httpx.AsyncClient(base_url=server.base, timeout=60) as client:
        stored = await stored_values(client, stream.token, RATE)
    expected = expected_keys(stream.space)
    present: dict[int, int] = {}
    wrong: list[str] = []
    for key, item in stored.items():
        assert key in expected, f"a value nobody sent: {key}"
        b, value = expected[key]
        present[b] = present.get(b, 0) + 1
        if not math.isclose(item["value"], value, rel_tol=1e-9) or item["denominator"] != 1000:
            wrong.append(f"{key}: stored {item['value']}, sent {value}")
    assert not wrong, f"{len(wrong)} values differ from what was sent: {wrong[:5]}"
    lost = {b: present.get(b, 0) for b in stream.acked if present.get(b, 0) != BATCH}
    assert not lost, f"acknowledged batches not (fully) stored — batch: values present: {lost}"
    half = {b: n for b, n in present.items() if n != BATCH}
    assert not half, f"half-stored batches — batch: values present of {BATCH}: {half}"
    assert set(present) <= stream.taken, f"batches stored that were never sent: {set(present) - stream.taken}"
    revisions = await revision_counts(url, RATE)
    assert set(revisions) == set(stored), (
        f"revisions without a value: {len(set(revisions) - set(stored))}, "
        f"values without a revision: {len(set(stored) - set(revisions))}")
    extra = {k: n for k, n in revisions.items() if n != 1}
    assert not extra, f"keys with more than one revision: {list(extra.items())[:5]}"
    return {"stored_batches": len(present), "stored_values": len(stored)}


async def resend_unanswered(server: Server, stream: Stream, stored_batches: set[int]) -> dict[str, int]:
    """Retry every unanswered batch with its own Idempotency-Key, as a district system would after a crash."""
    outcome = {"replayed": 0, "processed": 0}
    async with httpx.AsyncClient(base_url=server.base, timeout=60) as client:
        for b in sorted(stream.unanswered):
            for _ in range(20):  # a key whose holder died is 409 until its lease (2 s) runs out
                r = await stream.post(client, b)
                if r.status_code != 409:
                    break
                await asyncio.sleep(0.5)
            assert r.status_code == 200, f"batch {b}: {r.status_code} {r.text[:300]}"
            replayed = r.headers.get("idempotent-replayed") == "true"
            assert replayed == (b in stored_batches), (
                f"batch {b}: stored before the retry: {b in stored_batches}, replayed: {replayed}")
            if not replayed:
                assert r.json()["counts"]["created"] == BATCH, r.text[:300]
            outcome["replayed" if replayed else "processed"] += 1
            stream.acked[b] = r.json()["counts"]
    return outcome


async def test_acknowledged_values_survive_kill_9(database_url: str, tmp_path: Path) -> None:
    started = time.monotonic()
    keys = await prepared(database_url, schools_per_district=SCHOOLS_PER_DISTRICT)
    stream = Stream(Keyspace(schools(SCHOOLS_PER_DISTRICT), BATCH), keys["admin"])
    server = Server(database_url, tmp_path, env={"ATTAIN_IDEMPOTENCY_LEASE_SECONDS": str(LEASE_SECONDS)})
    kills: list[Kill] = []
    try:
        await server.start()
        for _ in range(ROUNDS):
            kills.append(await stream_and_kill(server, stream, acks=ACKS_PER_ROUND))
            assert not stream.failed_while_up, f"failures while the server was up: {stream.failed_while_up}"
            assert kills[-1].in_flight > 0, "no request was in flight at the kill"
            summary = await check_store(server, database_url, stream)
        async with httpx.AsyncClient(base_url=server.base, timeout=60) as client:
            stored = await stored_values(client, stream.token, RATE)
        by_key = expected_keys(stream.space)
        stored_batches = {by_key[k][0] for k in stored}
        committed_unanswered = len(stored_batches & set(stream.unanswered))
        await asyncio.sleep(LEASE_SECONDS)
        retry = await resend_unanswered(server, stream, stored_batches)
        final = await check_store(server, database_url, stream)
        assert final["stored_batches"] == len(stream.taken), "every sent batch is stored once retried"
    finally:
        await asyncio.to_thread(server.stop)
    backend = database_url.split(":")[0]
    print(f"\n[crash {backend}] {ROUNDS} kills, in flight at each kill: {[k.in_flight for k in kills]}, "
          f"acknowledged before the kills: {[k.acked_before for k in kills]}, restart to ready: "
          f"{', '.join(f'{k.restart_s:.1f}' for k in kills)} s; after the last restart {summary['stored_batches']} "
          f"batches stored, {len(stream.unanswered)} unanswered of which {committed_unanswered} committed; "
          f"retries: {retry}; {final['stored_values']} values, one revision each; {time.monotonic() - started:.0f} s")
