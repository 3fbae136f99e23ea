"""Database outage: with PostgreSQL gone the service fails fast with 503 problems, and it recovers by itself.

A private PostgreSQL 15 cluster (initdb in a temporary folder, its own port; the machine's shared server is never
touched) backs `attain serve`. Clients post and read while the cluster is stopped with `pg_ctl stop -m immediate`
(a database crash: no checkpoint) and started again. Asserted:
- while it is down every request is answered (no dropped connection) within 6 s, with a 503 problem document
  carrying Retry-After, never a 500; /readyz is 503;
- within 5 s of PostgreSQL accepting connections again /readyz is 200 and a POST succeeds, with no restart of
  the service, and from then on every request succeeds;
- every value acknowledged before, during and after the outage is stored, with one revision each (a 2xx
  survives a crash of the database too).

A second test freezes the cluster instead (SIGSTOP on every PostgreSQL process for 10 s: connections stay open
but nothing answers, as with a stalled disk or a network black hole) and asserts the same fail-fast contract:
every request answered within 6 s, failures as 503 problems, recovery within 5 s of the thaw.
"""

import asyncio
import os
import shutil
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.reliability.procs import (
    MEASUREMENTS,
    PG_BIN,
    RATE,
    Keyspace,
    Server,
    fresh_postgres,
    is_problem,
    prepared,
    private_cluster,
    revision_counts,
    schools,
    stored_values,
)

pytestmark = pytest.mark.skipif(
    not (PG_BIN / "initdb").exists() or shutil.which("runuser") is None or os.geteuid() != 0,
    reason="needs PostgreSQL 15 binaries, and root with runuser (initdb and pg_ctl run as the postgres user)",
)

FAIL_WITHIN_S = 6.0
RECOVER_WITHIN_S = 5.0
POSTERS, READERS = 3, 2
SCHOOLS_PER_DISTRICT = 50  # 500 schools × 36 years: 1,800 batches of 10
BATCH = 10


@dataclass(frozen=True)
class Sample:
    kind: str  # "post" or "get"
    started: float
    ended: float
    status: int  # 0: the connection failed or timed out
    problem_503: bool
    retry_after: str | None
    error: str = ""

    @property
    def seconds(self) -> float:
        return self.ended - self.started


class Load:
    """POSTERS clients posting 10-value batches and READERS clients reading, until stopped."""

    def __init__(self, base: str, token: str) -> None:
        self.base, self.token = base, token
        self.space = Keyspace(schools(SCHOOLS_PER_DISTRICT), BATCH)
        self.samples: list[Sample] = []
        self.acked: set[int] = set()
        self.next_batch = 0
        self.stop = asyncio.Event()

    async def _one(self, client: httpx.AsyncClient, kind: str) -> None:
        started = time.monotonic()
        batch = None
        try:
            if kind == "post":
                batch, self.next_batch = self.next_batch, self.next_batch + 1
                r = await client.post(MEASUREMENTS, json={"values": self.space.values(batch)})
            else:
                r = await client.get(MEASUREMENTS, params={"indicator": RATE, "limit": 200})
        except httpx.TransportError as exc:
            self.samples.append(Sample(kind, started, time.monotonic(), 0, False, None, type(exc).__name__))
            return
        if batch is not None and 200 <= r.status_code < 300:
            self.acked.add(batch)
        self.samples.append(Sample(kind, started, time.monotonic(), r.status_code, is_problem(r, 503),
                                   r.headers.get("retry-after"), "" if r.status_code < 500 else r.text[:200]))

    async def _client(self, kind: str) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        # Longer than FAIL_WITHIN_S, so a hang shows as a slow sample rather than as a client timeout.
        async with httpx.AsyncClient(base_url=self.base, headers=headers, timeout=15) as client:
            while not self.stop.is_set() and self.next_batch < self.space.batches - 1:  # the last: the probe's
                await self._one(client, kind)
                await asyncio.sleep(0.05)

    def start(self) -> list[asyncio.Task[None]]:
        kinds = ["post"] * POSTERS + ["get"] * READERS
        return [asyncio.create_task(self._client(k)) for k in kinds]


async def first_success(probe: Callable[[], Awaitable[bool]], *, timeout: float) -> float | None:
    """The monotonic time at which `probe` first succeeded, polling every 50 ms."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await probe():
            return time.monotonic()
        await asyncio.sleep(0.05)
    return None


class Probe:
    def __init__(self, client: httpx.AsyncClient, token: str, kind: str, space: Keyspace, batch: int) -> None:
        self.client, self.token, self.kind, self.space, self.batch = client, token, kind, space, batch

    async def __call__(self) -> bool:
        try:
            if self.kind == "readyz":
                return (await self.client.get("/readyz", timeout=3)).status_code == 200
            r = await self.client.post(MEASUREMENTS, json={"values": self.space.values(self.batch)},
                                       headers={"Authorization": f"Bearer {self.token}"}, timeout=10)
            return r.status_code == 200
        except httpx.TransportError:
            return False


async def test_outage_fails_fast_and_recovers(tmp_path: Path) -> None:
    async with private_cluster() as cluster, fresh_postgres("attain_outage", admin_url=cluster.admin_url) as url:
        keys = await prepared(url, schools_per_district=SCHOOLS_PER_DISTRICT)
        server = Server(url, tmp_path)
        try:
            await server.start()
            load = Load(server.base, keys["admin"])
            tasks = load.start()
            await asyncio.sleep(2)
            acked_before_outage = len(load.acked)
            assert acked_before_outage > 0, "no batch acknowledged before the outage"

            # --- the crash of the database
            stop_began = time.monotonic()
            await asyncio.to_thread(cluster.stop, "immediate")
            down = time.monotonic()
            await asyncio.sleep(4)
            async with httpx.AsyncClient(base_url=server.base, timeout=10) as client:
                asked = time.monotonic()
                ready_down = await client.get("/readyz")
                readyz_down_s = time.monotonic() - asked
                health_down = await client.get("/healthz")

            # --- PostgreSQL comes back; the service must follow without a restart
            restart_began = time.monotonic()
            async with httpx.AsyncClient(base_url=server.base) as client:
                start = asyncio.create_task(asyncio.to_thread(cluster.start))
                accepting, ready, posted = await asyncio.gather(
                    first_success(cluster.accepting, timeout=60),
                    first_success(Probe(client, keys["admin"], "readyz", load.space, 0), timeout=60),
                    first_success(Probe(client, keys["admin"], "post", load.space, load.space.batches - 1),
                                  timeout=60),
                )
                await start
            assert accepting is not None, "the cluster did not come back"
            await asyncio.sleep(3)  # the load goes on: every request from now on must succeed
            load.stop.set()
            await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)

            # --- a 2xx survives the crash of the database
            async with httpx.AsyncClient(base_url=server.base, timeout=60) as client:
                stored = await stored_values(client, keys["admin"], RATE)
            revisions = await revision_counts(url, RATE)
        finally:
            await asyncio.to_thread(server.stop)

    recovered = accepting + RECOVER_WITHIN_S if ready is None or posted is None else max(ready, posted)
    t = Timeline(stop_began, down, restart_began, accepting, recovered)
    problems = judge(load.samples, t)
    if not is_problem(ready_down, 503):
        problems.append(f"/readyz while down: {ready_down.status_code} {ready_down.text[:200]}")
    if health_down.status_code != 200:
        problems.append(f"/healthz while the database is down: {health_down.status_code} (it is liveness only)")
    for what, when in (("/readyz 200", ready), ("first successful POST", posted)):
        if when is None or when - accepting > RECOVER_WITHIN_S:
            problems.append(f"{what} {'never' if when is None else f'{when - accepting:.2f} s'} after PostgreSQL "
                            f"accepted connections again (limit {RECOVER_WITHIN_S} s)")
    missing = [(b, k) for b in load.acked for k in load.space.expected(b) if k not in stored]
    if missing:
        problems.append(f"{len(missing)} acknowledged values missing after the database crash: {missing[:5]}")
    if set(revisions) != set(stored) or set(revisions.values()) != {1}:
        problems.append("the revision table does not hold exactly one revision per stored value")

    failed = [s for s in load.samples if s.status >= 300]
    slowest = max((s.seconds for s in failed), default=float("nan"))
    first_503 = min((s.ended for s in failed if s.status == 503), default=float("nan")) - stop_began
    print(f"\n[outage] {len(load.samples)} requests, {len(load.acked)} batches acknowledged "
          f"({acked_before_outage} before the outage, all {'stored' if not missing else 'NOT stored'}); "
          f"pg_ctl stop -m immediate took {down - stop_began:.2f} s; first 503 {first_503:.2f} s after it began; "
          f"{len(failed)} failed requests: {dict(Counter(s.status for s in failed))}, slowest {slowest:.3f} s; "
          f"/readyz while down: {ready_down.status_code} in {readyz_down_s:.3f} s; PostgreSQL accepting "
          f"{accepting - restart_began:.2f} s after pg_ctl start; then /readyz 200 after "
          f"{fmt(ready, accepting)}, first POST 200 after {fmt(posted, accepting)}; "
          f"non-503 5xx by phase: {phases(load.samples, t)}")
    assert not problems, "\n".join(problems)


@dataclass(frozen=True)
class Timeline:
    stop_began: float  # pg_ctl stop -m immediate called
    down: float  # pg_ctl returned: nothing listens any more
    restart_began: float  # pg_ctl start called
    accepting: float  # a client could connect and query again
    recovered: float  # /readyz 200 and a POST succeeded, or RECOVER_WITHIN_S after `accepting`


def judge(samples: list[Sample], t: Timeline) -> list[str]:
    """Everything the clients saw that breaks the contract, in words."""
    out = []
    transport = [s for s in samples if s.status == 0]
    if transport:
        out.append(f"{len(transport)} requests without an answer (dropped or timed out): {transport[:3]}")
    other_5xx = [s for s in samples if s.status >= 500 and s.status != 503]
    if other_5xx:
        out.append(f"{len(other_5xx)} 5xx answers other than 503 (by phase: {phases(samples, t)}): {other_5xx[:3]}")
    failed = [s for s in samples if s.status >= 300]
    slow = [s for s in failed if s.seconds > FAIL_WITHIN_S]
    if slow:
        out.append(f"{len(slow)} failures slower than {FAIL_WITHIN_S} s: {slow[:3]}")
    not_problem = [s for s in failed if s.status != 0 and not (s.problem_503 and s.retry_after)]
    if not_problem:
        out.append(f"{len(not_problem)} failures that are not 503 problems with Retry-After: {not_problem[:3]}")
    while_down = [s for s in samples if t.down <= s.started and s.ended <= t.restart_began]
    if not while_down:
        out.append("no request was made while the database was down")
    ok_while_down = [s for s in while_down if s.status < 300]
    if ok_while_down:
        out.append(f"2xx while the database was down: {ok_while_down[:3]}")
    after = [s for s in samples if s.started >= t.recovered]
    late = [s for s in after if not 200 <= s.status < 300]
    if not after or late:
        out.append(f"failures once the service had recovered ({len(after)} requests since): {late[:3]}")
    return out


def phases(samples: list[Sample], t: Timeline) -> dict[str, int]:
    """Non-503 5xx answers by when they were asked."""
    out: Counter[str] = Counter()
    for s in samples:
        if s.status >= 500 and s.status != 503:
            if s.started < t.down:
                out["in flight at the stop"] += 1
            elif s.started < t.restart_began:
                out["while down"] += 1
            elif s.started < t.accepting:
                out["while PostgreSQL was starting up"] += 1
            else:
                out["after PostgreSQL accepted connections"] += 1
    return dict(out)


def fmt(when: float | None, since: float) -> str:
    return "never" if when is None else f"{when - since:+.2f} s"


FREEZE_S = 10.0
# A frozen server answers nothing, not even the rollback after a statement times out (5 s): a request caught
# mid-transaction needs the statement timeout plus the failed rollback. A stopped server is the 6 s case above.
FROZEN_FAIL_WITHIN_S = 8.0


async def test_frozen_database_fails_fast(tmp_path: Path) -> None:
    async with private_cluster() as cluster, fresh_postgres("attain_freeze", admin_url=cluster.admin_url) as url:
        keys = await prepared(url, schools_per_district=SCHOOLS_PER_DISTRICT)
        server = Server(url, tmp_path)
        try:
            await server.start()
            load = Load(server.base, keys["admin"])
            tasks = load.start()
            await asyncio.sleep(2)
            frozen = time.monotonic()
            cluster.freeze()
            try:
                await asyncio.sleep(FREEZE_S / 2)
                async with httpx.AsyncClient(base_url=server.base, timeout=FREEZE_S) as client:
                    asked = time.monotonic()
                    ready_frozen = await client.get("/readyz")
                    readyz_frozen_s = time.monotonic() - asked
                await asyncio.sleep(max(0.0, frozen + FREEZE_S - time.monotonic()))
            finally:
                cluster.thaw()
            thawed = time.monotonic()
            await asyncio.sleep(RECOVER_WITHIN_S + 3)
            load.stop.set()
            await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)
            async with httpx.AsyncClient(base_url=server.base, timeout=60) as client:
                stored = await stored_values(client, keys["admin"], RATE)
        finally:
            await asyncio.to_thread(server.stop)

    during = [s for s in load.samples if s.started < thawed and s.ended > frozen]
    problems = []
    transport = [s for s in load.samples if s.status == 0]
    if transport:
        problems.append(f"{len(transport)} requests without an answer (dropped or timed out): {transport[:3]}")
    hung = [s for s in during if s.seconds > FROZEN_FAIL_WITHIN_S]
    if hung:
        problems.append(f"{len(hung)} requests took longer than {FROZEN_FAIL_WITHIN_S} s while PostgreSQL was frozen "
                        f"(longest {max(s.seconds for s in hung):.1f} s): {hung[:3]}")
    wrong = [s for s in load.samples if s.status >= 300 and not (s.problem_503 and s.retry_after)]
    if wrong:
        problems.append(f"{len(wrong)} failures that are not 503 problems with Retry-After: {wrong[:3]}")
    late = [s for s in load.samples if s.started >= thawed + RECOVER_WITHIN_S and not 200 <= s.status < 300]
    if late:
        problems.append(f"failures more than {RECOVER_WITHIN_S} s after the thaw: {late[:3]}")
    if not is_problem(ready_frozen, 503) or readyz_frozen_s > FROZEN_FAIL_WITHIN_S:
        problems.append(f"/readyz while frozen: {ready_frozen.status_code} in {readyz_frozen_s:.1f} s")
    missing = [(b, k) for b in load.acked for k in load.space.expected(b) if k not in stored]
    if missing:
        problems.append(f"{len(missing)} acknowledged values missing: {missing[:5]}")
    print(f"\n[freeze] PostgreSQL frozen {thawed - frozen:.1f} s; {len(during)} requests overlapped the freeze: "
          f"{dict(Counter(s.status for s in during))}, slowest {max((s.seconds for s in during), default=0):.1f} s, "
          f"{len(hung)} over {FROZEN_FAIL_WITHIN_S} s; /readyz while frozen: {ready_frozen.status_code} in "
          f"{readyz_frozen_s:.2f} s; {len(load.acked)} batches acknowledged, "
          f"{'all stored' if not missing else f'{len(missing)} values MISSING'}")
    assert not problems, "\n".join(problems)
