"""Load: one uvicorn process on PostgreSQL, driven by a load generator in its own processes (asyncio + httpx,
keep-alive connection pools), all on 127.0.0.1.

(a) closed loop: `--clients` clients (default 50) each POST one value (distinct keys, admin key) and wait for
    the answer, for --duration seconds; then the same on GET /healthz; requests/s, p50/p99, errors, and the ratio
    of the two throughputs (how much of the plain HTTP capacity a write keeps).
(b) open loop: a fixed `--quiet-rate` (default 50), then `--rate` of single-value POSTs per second (default 200),
    each for --duration seconds. Sends are scheduled by the clock and latency runs from the scheduled instant, so
    a slow answer cannot delay the next send and hide itself (no coordinated omission). Target: p99 < 50 ms and
    no errors. The server's CPU per request (the roll-up in the same process included) and the roll-up's lag
    (sampled from the database) are printed beside each phase. Then a search, from below in steps of
    --step-duration seconds, for the highest fixed rate that still meets the target: up by --rate-step until a
    step fails, then bisection down to --resolution.

(c) with --hot, (b) again with every write to one (indicator, year) across the 10,000 schools — the
    reporting-deadline pattern.

    .venv/bin/python bench/load.py [--duration 60] [--clients 50] [--rate 200] [--procs 2] [--step-duration 15]
                                   [--quiet-rate 50] [--workers 1] [--hot] [--no-closed] [--no-search]
"""

import argparse
import asyncio
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from multiprocessing import get_context
from pathlib import Path

import asyncpg
import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import DISTRICTS, dsn, percentile, postgres_database, prepare, uvicorn_server  # noqa: E402

INDICATOR = "t03-campus-network-compliance"  # a district-level rate, yearly: one key per (school, year)
FIRST_YEAR, LAST_YEAR = 1990, 2025
SCHOOLS_PER_DISTRICT = 1000  # 10,000 schools × 36 years = 360,000 distinct keys
TARGET_P99_S = 0.050
REQUEST_TIMEOUT_S = 10.0
MAX_STEPS = 30  # the search never runs more steps than this
OPEN_POOLS, OPEN_POOL_SIZE = 32, 4  # open loop, per generator process: 32 clients of up to 4 connections
MAX_OUTSTANDING = 1000  # open loop, per generator process: beyond this backlog sends are counted as failed


@dataclass(frozen=True)
class Job:
    """One load generator process's share of a phase."""

    base: str
    token: str
    mode: str  # "closed" or "open"
    target: str  # "post" or "healthz"
    start_at: float  # wall clock, so every process starts together
    duration: float
    clients: int = 0  # closed loop
    rate: float = 0.0  # open loop: this process's share
    offset: float = 0.0  # open loop: where this process's sends sit between the others'
    first_key: int = 0  # this process uses keys first_key + index + stride·j, j < max_keys
    hot: bool = False  # every write to one (indicator, year): the reporting-deadline pattern
    index: int = 0
    stride: int = 1
    max_keys: int = 0

    def key(self, j: int) -> int:
        return self.first_key + self.index + self.stride * j


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)  # seconds, every answered or failed request
    errors: dict[str, int] = field(default_factory=dict)
    ok: int = 0
    elapsed: float = 0.0
    cpu: float = 0.0  # seconds of CPU the generator process used
    lag: float = 0.0  # open loop: how late the generator sent, at worst
    out_of_keys: bool = False
    used: int = 0  # keys consumed by the busiest process

    def add(self, other: "Result") -> None:
        self.latencies += other.latencies
        for k, n in other.errors.items():
            self.errors[k] = self.errors.get(k, 0) + n
        self.ok += other.ok
        self.elapsed = max(self.elapsed, other.elapsed)
        self.cpu += other.cpu
        self.lag = max(self.lag, other.lag)
        self.out_of_keys |= other.out_of_keys
        self.used = max(self.used, other.used)

    @property
    def n_errors(self) -> int:
        return sum(self.errors.values())


YEARS = LAST_YEAR - FIRST_YEAR + 1


def value_body(g: int) -> bytes:
    """The body for key number g: one value, distinct (school, year) for every g.

    Consecutive keys go to different years: up to commit 4890032 the service serialised writers of the same
    (indicator, year), so keys all in one year measured that lock, not the service (see hot_body)."""
    school, year = g // YEARS, FIRST_YEAR + g % YEARS
    assert school < len(DISTRICTS) * SCHOOLS_PER_DISTRICT, "key space exhausted"
    unit = f"{DISTRICTS[school // SCHOOLS_PER_DISTRICT]}{school % SCHOOLS_PER_DISTRICT:05d}"
    return orjson.dumps({"values": [{"indicator": INDICATOR, "unit": unit, "period": str(year),
                                     "numerator": g % 1000, "denominator": 1000}]})


KEY_SPACE = len(DISTRICTS) * SCHOOLS_PER_DISTRICT * YEARS
HOT_YEAR = 2024


def hot_body(g: int) -> bytes:
    """The --hot phase: every write to one (indicator, year) — each of the 10,000 schools in turn, then again."""
    school = g % (len(DISTRICTS) * SCHOOLS_PER_DISTRICT)
    unit = f"{DISTRICTS[school // SCHOOLS_PER_DISTRICT]}{school % SCHOOLS_PER_DISTRICT:05d}"
    return orjson.dumps({"values": [{"indicator": INDICATOR, "unit": unit, "period": str(HOT_YEAR),
                                     "numerator": g % 1000, "denominator": 1000}]})


async def _request(client: httpx.AsyncClient, job: Job, key: int | None) -> str | None:
    """One request; None when it succeeded, else what went wrong."""
    try:
        if job.target == "healthz":
            r = await client.get("/healthz")
        else:
            body = hot_body(key or 0) if job.hot else value_body(key or 0)
            r = await client.post("/api/v1/measurements", content=body,
                                  headers={"Content-Type": "application/json"})
    except httpx.HTTPError as exc:
        return type(exc).__name__
    return None if 200 <= r.status_code < 300 else str(r.status_code)


async def _closed(job: Job, clients: list[httpx.AsyncClient], out: Result) -> None:
    deadline = time.monotonic() + job.duration

    async def client_loop(client: httpx.AsyncClient) -> None:
        while time.monotonic() < deadline:
            key = None
            if job.target == "post":
                if out.used >= job.max_keys:
                    out.out_of_keys = True
                    return
                key, out.used = job.key(out.used), out.used + 1
            started = time.monotonic()
            error = await _request(client, job, key)
            out.latencies.append(time.monotonic() - started)
            if error:
                out.errors[error] = out.errors.get(error, 0) + 1
            else:
                out.ok += 1

    await asyncio.gather(*(client_loop(c) for c in clients))


async def _open(job: Job, clients: list[httpx.AsyncClient], out: Result) -> None:
    loop = asyncio.get_running_loop()
    sends = min(int(job.rate * job.duration), job.max_keys)
    out.out_of_keys = sends < int(job.rate * job.duration)
    out.used = sends
    t0 = loop.time() + job.offset

    outstanding = 0

    async def one(i: int, scheduled: float) -> None:
        nonlocal outstanding
        outstanding += 1
        try:
            error = await _request(clients[i % len(clients)], job, job.key(i))
        finally:
            outstanding -= 1
        out.latencies.append(loop.time() - scheduled)  # from the scheduled instant, not from the send
        if error:
            out.errors[error] = out.errors.get(error, 0) + 1
        else:
            out.ok += 1

    tasks = []
    for i in range(sends):
        scheduled = t0 + i / job.rate
        delay = scheduled - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        out.lag = max(out.lag, loop.time() - scheduled)
        if outstanding >= MAX_OUTSTANDING:
            # The server is far behind: count the send as failed instead of piling up more work.
            out.errors["not sent (backlog)"] = out.errors.get("not sent (backlog)", 0) + 1
            continue
        tasks.append(asyncio.create_task(one(i, scheduled)))
    await asyncio.gather(*tasks)


async def _run(job: Job) -> Result:
    out = Result()
    # Many small pools rather than one big one: httpx's pool costs more CPU per request the more requests
    # wait on it (here 2 ms at 1 waiting, 6 ms at 25), which would make the generator the bottleneck.
    n, per = (job.clients, 1) if job.mode == "closed" else (OPEN_POOLS, OPEN_POOL_SIZE)
    limits = httpx.Limits(max_connections=per, max_keepalive_connections=per, keepalive_expiry=30)
    headers = {"Authorization": f"Bearer {job.token}"}
    async with AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(httpx.AsyncClient(
            base_url=job.base, limits=limits, headers=headers, timeout=REQUEST_TIMEOUT_S)) for _ in range(n)]
        delay = job.start_at - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        cpu, started = time.process_time(), time.monotonic()
        await (_closed if job.mode == "closed" else _open)(job, clients, out)
        out.elapsed, out.cpu = time.monotonic() - started, time.process_time() - cpu
    return out


def run_job(job: Job) -> Result:
    """Entry point in a generator process."""
    return asyncio.run(_run(job))


class Generator:
    """`procs` load generator processes, kept for the whole run; hands out disjoint key ranges."""

    def __init__(self, base: str, token: str, procs: int) -> None:
        self.base, self.token, self.procs = base, token, procs
        self.pool = ProcessPoolExecutor(max_workers=procs, mp_context=get_context("spawn"))
        self.next_key = 0
        self.hot = False

    def _jobs(self, **kw: object) -> list[Job]:
        """One job per process; their keys interleave from the next unused key (distinct across the run)."""
        left = (KEY_SPACE - self.next_key) // self.procs
        start_at = time.time() + 1.0
        return [Job(self.base, self.token, start_at=start_at, first_key=self.next_key, index=i, stride=self.procs,
                    max_keys=left, hot=self.hot, **kw) for i in range(self.procs)]  # type: ignore[arg-type]

    def closed(self, target: str, clients: int, duration: float) -> Result:
        jobs = self._jobs(mode="closed", target=target, duration=duration)
        share = [clients // self.procs + (1 if i < clients % self.procs else 0) for i in range(self.procs)]
        return self._gather([replace(j, clients=n) for j, n in zip(jobs, share, strict=True)])

    def open(self, rate: float, duration: float) -> Result:
        jobs = self._jobs(mode="open", target="post", duration=duration, rate=rate / self.procs)
        return self._gather([replace(j, offset=i / rate) for i, j in enumerate(jobs)])

    def _gather(self, jobs: list[Job]) -> Result:
        total = Result()
        for r in self.pool.map(run_job, jobs):
            total.add(r)
        self.next_key += self.procs * total.used
        return total

    def close(self) -> None:
        self.pool.shutdown()


def server_cpu() -> float:
    """CPU seconds used so far by this process's children other than the generators (the uvicorn server)."""
    try:
        import psutil
    except ImportError:
        return math.nan
    total = 0.0
    for p in psutil.Process().children():
        try:
            if "app.cli" in " ".join(p.cmdline()):
                # The server and, with --workers, the worker processes it spawned.
                for q in (p, *p.children(recursive=True)):
                    t = q.cpu_times()
                    total += t.user + t.system
        except psutil.Error:
            pass
    return total


def ms(s: float) -> str:
    return f"{s * 1000:7.1f} ms"


def describe(r: Result, server_s: float) -> str:
    seconds = r.elapsed or math.nan
    rps = r.ok / seconds
    errors = ", ".join(f"{k}×{n}" for k, n in sorted(r.errors.items())) or "0"
    note = " (key space ran out)" if r.out_of_keys else ""
    per_post = server_s / r.ok * 1000 if r.ok else math.nan
    lag = f"  {LAG.describe()}" if LAG is not None else ""
    return (f"{rps:8.1f} req/s  p50 {ms(percentile(r.latencies, 50))}  p99 {ms(percentile(r.latencies, 99))}  "
            f"errors {errors}  [CPU, % of one core: server {server_s / seconds:.0%} = {per_post:.2f} ms a request, "
            f"generators {r.cpu / seconds:.0%}; load average {os.getloadavg()[0]:.2f}]{note}{lag}")


def meets(r: Result) -> bool:
    return r.n_errors == 0 and not r.out_of_keys and percentile(r.latencies, 99) < TARGET_P99_S


class LagSampler:
    """The roll-up's lag (age of the oldest dirty cell) read from the database every 0.25 s in a thread of its own
    while a phase runs — not through /metrics, whose scrape would roll up itself and change what it measures."""

    def __init__(self, url: str) -> None:
        self.dsn = dsn(url)
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> "LagSampler":
        self.samples = []
        self._stop.clear()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    async def _run(self) -> None:
        conn = await asyncpg.connect(self.dsn)
        try:
            while not self._stop.is_set():
                lag = await conn.fetchval("SELECT coalesce(extract(epoch FROM now() - min(stamp)), 0) "
                                          "FROM rollup_dirty")
                self.samples.append(float(lag))
                await asyncio.sleep(0.25)
        finally:
            await conn.close()

    def describe(self) -> str:
        if not self.samples:
            return "roll-up lag: no samples"
        return (f"roll-up lag p50 {ms(percentile(self.samples, 50))}  p99 {ms(percentile(self.samples, 99))}  "
                f"max {ms(max(self.samples))}")


LAG: LagSampler | None = None  # set in main() once the database exists


def phase(run: Callable[[], Result]) -> tuple[Result, float]:
    """Run one phase; also the server's CPU seconds during it (and the roll-up's lag, printed by describe)."""
    before = server_cpu()
    if LAG is None:
        return run(), server_cpu() - before
    with LAG:
        r = run()
    return r, server_cpu() - before


def search(gen: Generator, args: argparse.Namespace) -> tuple[float | None, list[str]]:
    """The highest fixed rate meeting the target: up by rate_step until a failure, then bisect."""
    lines: list[str] = []
    good, bad = 0.0, None
    rate = float(args.rate_step)
    steps = 0

    def step(rate: float) -> bool:
        nonlocal steps
        steps += 1
        r, srv = phase(lambda: gen.open(rate, args.step_duration))
        ok = meets(r)
        lines.append(f"  {rate:6.0f}/s: {describe(r, srv)}  lag {ms(r.lag)}  "
                     f"{'meets' if ok else 'misses'}")
        print(lines[-1], flush=True)
        time.sleep(2)  # let the server drain between steps
        return ok

    while bad is None and rate <= args.max_rate and steps < MAX_STEPS:
        if step(rate):
            good, rate = rate, rate + args.rate_step
        else:
            bad = rate
    if bad is None:
        return good, lines
    while bad - good > args.resolution and steps < MAX_STEPS:
        mid = round((good + bad) / 2 / args.resolution) * args.resolution
        if mid in (good, bad):
            break
        if step(mid):
            good = mid
        else:
            bad = mid
    return (good or None), lines


def _open_phase(gen: Generator, args: argparse.Namespace, title: str) -> None:
    d = args.duration
    print(f"{title} (latency from the scheduled send)", flush=True)
    for rate in (args.quiet_rate, args.rate):
        # The quiet rate first, then the target rate; the search last: an overloading phase spoils what follows.
        fixed, fixed_srv = phase(lambda rate=rate: gen.open(rate, d))
        print(f"  {rate:.0f} POST/s for {d:.0f} s: {describe(fixed, fixed_srv)}  generator lag {ms(fixed.lag)}")
        print(f"    target p99 < {TARGET_P99_S * 1000:.0f} ms and no errors: "
              f"{'MET' if meets(fixed) else 'NOT MET'}", flush=True)
        time.sleep(3)
    if not args.no_search:
        print(f"  search from {args.rate_step:.0f}/s up, {args.step_duration:.0f} s per step:", flush=True)
        best, _ = search(gen, args)
        found = f"{best:.0f} POST/s" if best else "none of the rates tried (not even the lowest)"
        print(f"  highest fixed rate meeting the target: {found}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=60, help="seconds of each closed-loop and open-loop phase")
    ap.add_argument("--clients", type=int, default=50, help="closed-loop clients")
    ap.add_argument("--rate", type=float, default=200, help="open-loop POSTs per second")
    ap.add_argument("--quiet-rate", type=float, default=50, help="open loop: a quiet rate, measured first")
    ap.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    ap.add_argument("--procs", type=int, default=2, help="load generator processes")
    ap.add_argument("--step-duration", type=float, default=15, help="seconds of each search step")
    ap.add_argument("--rate-step", type=float, default=100, help="search: rate increment")
    ap.add_argument("--max-rate", type=float, default=3000, help="search: never above this rate")
    ap.add_argument("--resolution", type=float, default=10, help="search: bisect down to this")
    ap.add_argument("--no-search", action="store_true", help="skip the search for the highest rate")
    ap.add_argument("--hot", action="store_true",
                    help="then (c): the open loop and its search again, every write to one (indicator, year)")
    ap.add_argument("--no-closed", action="store_true", help="skip the closed-loop phase (a)")
    args = ap.parse_args()
    # A SIGTERM (timeout, CI) still drops the database and stops the server: the `with` blocks run.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    assert 0 < args.duration <= 3600 and 0 < args.step_duration <= 600 and 0 < args.rate <= 10_000

    print(f"attain load: {args.workers} uvicorn worker(s) on PostgreSQL, {args.procs} generator processes, "
          f"{os.cpu_count()} CPUs shared by all, 127.0.0.1 only; load average {os.getloadavg()[0]:.2f}", flush=True)
    global LAG
    with postgres_database("attain_load") as url:
        keys = prepare(url, schools_per_district=SCHOOLS_PER_DISTRICT)
        LAG = LagSampler(url)
        # Warnings and errors only: the server's stderr is a pipe nobody reads during the run.
        with uvicorn_server(url, workers=args.workers, extra_env={"ATTAIN_LOG_LEVEL": "error"}) as base:
            gen = Generator(base, keys["admin"], args.procs)
            try:
                gen.closed("post", args.clients, 3)  # warm-up: connections, catalog snapshot, plans
                d = args.duration
                if not args.no_closed:
                    post, post_srv = phase(lambda: gen.closed("post", args.clients, d))
                    print(f"(a) closed loop, {args.clients} clients, {d:.0f} s each", flush=True)
                    print(f"  POST 1 value : {describe(post, post_srv)}", flush=True)
                    health, health_srv = phase(lambda: gen.closed("healthz", args.clients, d))
                    print(f"  GET /healthz : {describe(health, health_srv)}", flush=True)
                    ratio = (post.ok / post.elapsed) / (health.ok / health.elapsed) if health.ok else math.nan
                    print(f"  ratio POST / healthz throughput: {ratio:.2f}", flush=True)
                _open_phase(gen, args, "(b) open loop, keys spread over 36 years")
                if args.hot:
                    gen.hot = True
                    _open_phase(gen, args, f"(c) --hot: every write to {INDICATOR} {HOT_YEAR}, 10,000 schools")
            finally:
                gen.close()


if __name__ == "__main__":
    main()
