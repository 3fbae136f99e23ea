"""Shared set-up for benchmarks: a throw-away database, schools, keys and a real uvicorn process."""

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from app.db import keys as key_store
from app.db.engine import create_engine, create_session_factory
from app.db.migrate import upgrade
from app.db.seed import seed
from app.domain.keys import Role
from app.settings import SEEDS_DIR, Settings

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN = os.environ.get("ATTAIN_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
DISTRICTS = ("370202", "370203", "370211", "370212", "370213", "370214", "370215", "370281", "370283", "370285")


def dsn(url: str) -> str:
    """An asyncpg DSN from a SQLAlchemy URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(dsn(PG_ADMIN))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextmanager
def postgres_database(prefix: str = "attain_bench") -> Iterator[str]:
    """A fresh PostgreSQL database, dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(f"CREATE DATABASE {name}"))
    try:
        yield make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


def prepare(url: str, *, schools_per_district: int) -> dict[str, str]:
    """Migrate, seed, add schools under every district; return keys by role name."""
    upgrade(url)

    async def work() -> dict[str, str]:
        engine = create_engine(Settings(database_url=url))
        try:
            async with create_session_factory(engine, write=True)() as s, s.begin():
                await seed(s, SEEDS_DIR)
                conn = await s.connection()
                rows = [
                    {"code": f"{d}{i:05d}", "name": f"学校{d}-{i}", "parent_code": d, "level": "school",
                     "aliases": []}
                    for d in DISTRICTS for i in range(schools_per_district)
                ]
                from app.db.models import Unit

                if rows:
                    await conn.execute(Unit.__table__.insert(), rows)  # type: ignore[attr-defined]
                out = {}
                for name, role in (("admin", Role.ADMIN), ("bureau", Role.BUREAU), ("scraper", Role.SCRAPER)):
                    _, out[name] = await key_store.create_key(s, name=f"bench {name}", role=role, unit_code=None)
                return out
        finally:
            await engine.dispose()

    return asyncio.run(work())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def uvicorn_server(url: str, *, workers: int = 1, extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """`attain serve` in its own process on a free port; yields the base URL."""
    port = free_port()
    env = {**os.environ, "ATTAIN_DATABASE_URL": url, "ATTAIN_PORT": str(port), "ATTAIN_LOG_LEVEL": "warning",
           **(extra_env or {})}
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--workers", str(workers)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                raise RuntimeError(f"server exited: {proc.stderr.read().decode() if proc.stderr else ''}")
            time.sleep(0.2)
        else:
            raise RuntimeError("server did not become ready")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]
