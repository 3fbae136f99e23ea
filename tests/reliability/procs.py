"""Process-level helpers for the reliability tests: `attain serve` as a real subprocess, throw-away databases
(a fresh database on the shared PostgreSQL, an SQLite file, or a private PostgreSQL cluster), batches with
known keys, and reading back what was stored — through the API and straight from the tables."""

import asyncio
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import asyncpg
import httpx
import psutil
from sqlalchemy.engine import make_url

from bench.common import DISTRICTS, PG_ADMIN, dsn, free_port, prepare

ROOT = Path(__file__).resolve().parents[2]
MEASUREMENTS = "/api/v1/measurements"
# A district-level rate, yearly: one value per (school, year); value = 100·n/d is derived by the service.
RATE = "t03-campus-network-compliance"
DENOMINATOR = 1000
FIRST_YEAR = 1990
LAST_YEAR = 2025  # periods must have ended
PG_BIN = Path("/usr/lib/postgresql/15/bin")
# The shared server for the crash and shutdown tests: the suite's own setting if given, else bench's default.
PG_SERVER = os.environ.get("ATTAIN_TEST_POSTGRES_URL") or PG_ADMIN

Key = tuple[str, str, str]


def schools(per_district: int) -> list[str]:
    """The school codes prepare() creates under the ten districts."""
    return [f"{d}{i:05d}" for d in DISTRICTS for i in range(per_district)]


@dataclass(frozen=True)
class Keyspace:
    """Distinct (school, year) keys for the rate indicator, cut into numbered batches."""

    units: list[str]
    batch_size: int

    @property
    def batches(self) -> int:
        return len(self.units) * (LAST_YEAR - FIRST_YEAR + 1) // self.batch_size

    def values(self, batch: int) -> list[dict[str, Any]]:
        """The values of one batch; the numerator encodes the position so every value is distinct."""
        assert 0 <= batch < self.batches, batch
        out = []
        for j in range(self.batch_size):
            g = batch * self.batch_size + j
            unit, year = self.units[g % len(self.units)], FIRST_YEAR + g // len(self.units)
            out.append({"indicator": RATE, "unit": unit, "period": str(year), "numerator": g % DENOMINATOR,
                        "denominator": DENOMINATOR, "comment": f"batch {batch}"})
        return out

    def expected(self, batch: int) -> dict[Key, float]:
        """What GET /measurements must show for the batch: key → value."""
        return {(v["indicator"], v["unit"], v["period"]): 100.0 * v["numerator"] / DENOMINATOR
                for v in self.values(batch)}


# ---------------------------------------------------------------- databases


def postgres_reachable() -> bool:
    """Whether the shared PostgreSQL server answers (the PostgreSQL variants skip otherwise)."""
    async def probe() -> bool:
        try:
            conn = await asyncpg.connect(dsn(PG_SERVER), timeout=3)
        except (TimeoutError, OSError, asyncpg.PostgresError):
            return False
        await conn.close()
        return True

    return asyncio.run(probe())


async def _pg_exec(admin_url: str, sql: str) -> None:
    conn = await asyncpg.connect(dsn(admin_url), timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@asynccontextmanager
async def fresh_postgres(prefix: str = "attain_rel", admin_url: str = PG_SERVER) -> AsyncIterator[str]:
    """A new database on the server of `admin_url`, dropped afterwards; yields its SQLAlchemy URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    await _pg_exec(admin_url, f"CREATE DATABASE {name}")
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        await _pg_exec(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


async def prepared(url: str, *, schools_per_district: int) -> dict[str, str]:
    """Migrate, seed, add schools and keys (bench.common.prepare runs its own event loop: give it a thread)."""
    return await asyncio.to_thread(prepare, url, schools_per_district=schools_per_district)


async def revision_counts(url: str, indicator: str) -> dict[Key, int]:
    """Revisions per (indicator, unit, period), read from the table itself."""
    sql = ("SELECT indicator_code, unit_code, period, COUNT(*) FROM measurement_revisions "
           "WHERE indicator_code = {p} GROUP BY indicator_code, unit_code, period")
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        def read() -> list[tuple[str, str, str, int]]:
            with sqlite3.connect(u.database or "") as conn:
                return conn.execute(sql.format(p="?"), (indicator,)).fetchall()
        rows = await asyncio.to_thread(read)
    else:
        conn = await asyncpg.connect(dsn(url), timeout=10)
        try:
            rows = [tuple(r) for r in await conn.fetch(sql.format(p="$1"), indicator)]
        finally:
            await conn.close()
    return {(a, b, c): int(n) for a, b, c, n in rows}


def _run_as_postgres(*args: str | Path, timeout: float = 60) -> None:
    subprocess.run(["runuser", "-u", "postgres", "--", *map(str, args)], check=True, timeout=timeout,
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@dataclass
class PrivateCluster:
    """A PostgreSQL 15 cluster of our own (initdb in a temporary folder, its own port and socket folder).

    The machine's shared server is never touched: everything runs on `port`, with data, socket and log
    under `folder`."""

    folder: Path
    port: int = field(default_factory=free_port)
    frozen: bool = False

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def admin_url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def init(self) -> None:
        shutil.chown(self.folder, "postgres", "postgres")
        _run_as_postgres(PG_BIN / "initdb", "-D", self.data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
                         "--no-sync", "--no-instructions")

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=on"
        _run_as_postgres(PG_BIN / "pg_ctl", "-D", self.data, "-l", self.folder / "postgres.log", "-o", opts,
                         "-w", "-t", "60", "start", timeout=90)

    def stop(self, mode: str = "immediate") -> None:
        """`immediate` is a crash as far as PostgreSQL is concerned: no checkpoint, WAL replay on start."""
        _run_as_postgres(PG_BIN / "pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "60", "stop", timeout=90)

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def _processes(self) -> list[psutil.Process]:
        """The postmaster first, then every process it forked (backends, checkpointer, WAL writer, ...)."""
        postmaster = psutil.Process(int((self.data / "postmaster.pid").read_text().split()[0]))
        return [postmaster, *postmaster.children(recursive=True)]

    def freeze(self) -> None:
        """SIGSTOP the whole cluster: connections stay open but nothing answers (a stalled disk, a black hole)."""
        for p in self._processes():
            p.send_signal(signal.SIGSTOP)
        self.frozen = True

    def thaw(self) -> None:
        if self.frozen:
            for p in self._processes():
                p.send_signal(signal.SIGCONT)
            self.frozen = False

    async def accepting(self) -> bool:
        """Whether a client can connect and run a query right now."""
        try:
            conn = await asyncpg.connect(dsn(self.admin_url), timeout=1)
        except (TimeoutError, OSError, asyncpg.PostgresError):
            return False
        try:
            await conn.fetchval("SELECT 1")
            return True
        except (OSError, asyncpg.PostgresError):
            return False
        finally:
            await conn.close()


@asynccontextmanager
async def private_cluster() -> AsyncIterator[PrivateCluster]:
    """A running private cluster, stopped and deleted afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="attain-pg-"))
    cluster = PrivateCluster(folder)
    try:
        await asyncio.to_thread(cluster.init)
        await asyncio.to_thread(cluster.start)
        yield cluster
    finally:
        if cluster.running():
            cluster.thaw()
            await asyncio.to_thread(cluster.stop, "immediate")
        shutil.rmtree(folder, ignore_errors=True)


# ---------------------------------------------------------------- the service


class Server:
    """`python -m app.cli serve` (one worker) as a subprocess on a fixed port; restartable on the same port."""

    def __init__(self, database_url: str, log_dir: Path, *, command: list[str] | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.command = command or [sys.executable, "-m", "app.cli", "serve"]
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "ATTAIN_DATABASE_URL": database_url, "ATTAIN_PORT": str(self.port),
                    "ATTAIN_LOG_LEVEL": "warning", "ATTAIN_WORKERS": "1", **(env or {})}
        self.log_dir = log_dir
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: TextIO | None = None
        self.starts = 0

    def spawn(self) -> None:
        assert self.proc is None, "already running"
        self.starts += 1
        self._log = open(self.log_dir / f"server-{self.port}-{self.starts}.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(self.command, cwd=ROOT, env=self.env,
                                     stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT)

    async def start(self, timeout: float = 60) -> float:
        """Spawn and wait until /readyz is 200; returns the seconds it took."""
        started = time.monotonic()
        self.spawn()
        async with httpx.AsyncClient(base_url=self.base, timeout=2) as client:
            while time.monotonic() - started < timeout:
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        return time.monotonic() - started
                except httpx.TransportError:
                    pass
                if self.proc is not None and self.proc.poll() is not None:
                    self.reap()
                    raise RuntimeError(f"server exited during start-up:\n{self.log_tail()}")
                await asyncio.sleep(0.1)
        raise RuntimeError(f"server not ready after {timeout} s:\n{self.log_tail()}")

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    async def wait_exit(self, timeout: float) -> int | None:
        """The exit code once the process ends within `timeout`, else None (it keeps running)."""
        assert self.proc is not None
        try:
            code = await asyncio.to_thread(self.proc.wait, timeout)
        except subprocess.TimeoutExpired:
            return None
        self.reap()
        return code

    def reap(self) -> None:
        """Wait for the process and close its log file (no ResourceWarning left behind)."""
        if self.proc is not None:
            self.proc.wait()
            self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def stop(self) -> None:
        """Best-effort clean-up: SIGTERM, then SIGKILL if it lingers."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=35)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.reap()

    def log_tail(self, lines: int = 40) -> str:
        """The end of the newest log (for assertion messages)."""
        log = self.log_dir / f"server-{self.port}-{self.starts}.log"
        if not log.exists():
            return ""
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def accepted_sockets(port: int) -> list[tuple[int, int]]:
    """(client port, bytes not yet read by the server) of each established connection accepted on `port`.

    Read from /proc/net/tcp: a request whose bytes are all read has been parsed by uvicorn, so it is in flight
    on the server side — not merely sitting in the kernel's receive queue."""
    out = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            _, local, remote, state, queues, *_ = line.split()
            if state == "01" and int(local.rsplit(":", 1)[1], 16) == port:
                out.append((int(remote.rsplit(":", 1)[1], 16), int(queues.split(":")[1], 16)))
    return out


# ---------------------------------------------------------------- reading back


async def stored_values(client: httpx.AsyncClient, token: str, indicator: str) -> dict[Key, dict[str, Any]]:
    """Every current value of one indicator, through GET /measurements, following next_cursor."""
    out: dict[Key, dict[str, Any]] = {}
    cursor: str | None = None
    for _ in range(10_000):  # bounded: 5,000 per page
        params: dict[str, Any] = {"indicator": indicator, "limit": 5000}
        if cursor:
            params["cursor"] = cursor
        r = await client.get(MEASUREMENTS, params=params, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text[:500]
        page = r.json()
        for item in page["items"]:
            out[(item["indicator"], item["unit"], item["period"])] = item
        cursor = page["next_cursor"]
        if not cursor:
            return out
    raise AssertionError("pagination did not end")


async def wait_for(check: Callable[[], Awaitable[bool]], *, timeout: float, step: float = 0.05) -> float | None:
    """Seconds until `check()` holds, or None if it did not within `timeout`."""
    started = time.monotonic()
    while True:
        if await check():
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            return None
        await asyncio.sleep(step)


def is_problem(r: httpx.Response, status: int) -> bool:
    """An RFC 9457 problem document with this status."""
    if r.status_code != status or not r.headers.get("content-type", "").startswith("application/problem+json"):
        return False
    try:
        return r.json().get("status") == status
    except ValueError:
        return False
