"""The roll-up across real `attain serve` processes (SPEC "Storage"): two servers on one PostgreSQL database share
the roll-up without both rolling up one cell and leave every total exact; and dirty cells written while the worker
was paused survive kill -9 and are rolled up by the restarted server (SQLite and PostgreSQL)."""

import asyncio
import random
import signal
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import make_url

from app.domain import quality
from bench.common import DISTRICTS, dsn
from tests.reliability.procs import (
    MEASUREMENTS,
    Server,
    fresh_postgres,
    postgres_reachable,
    prepared,
    schools,
    wait_for,
)

CITY = "370200"
STOCK = "t14-practice-base"  # stock, district level, yearly, 0..100: a district's value is the sum of its schools'
PER_DISTRICT = 5
SCHOOLS = schools(PER_DISTRICT)
YEARS = range(2017, 2022)
SEED = 20260415

Totals = dict[tuple[str, int], float]  # (unit, year) → A(u, y)


async def _rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    """A query straight on the tables, outside the service (no read of the API rolls anything up)."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        def read() -> list[tuple[Any, ...]]:
            with sqlite3.connect(u.database or "") as conn:
                return conn.execute(sql).fetchall()
        return await asyncio.to_thread(read)
    conn = await asyncpg.connect(dsn(url), timeout=10)
    try:
        return [tuple(r) for r in await conn.fetch(sql)]
    finally:
        await conn.close()


async def _dirty(url: str) -> int:
    return int((await _rows(url, "SELECT COUNT(*) FROM rollup_dirty"))[0][0])


def _pooled(final: dict[tuple[str, int], int]) -> Totals:
    """Each district's and the city's sum over their schools' final values, per year written."""
    out: Totals = {}
    for (school, year), v in final.items():
        for unit in (school[:6], CITY):
            out[(unit, year)] = out.get((unit, year), 0.0) + v
    return out


async def _read_totals(server: Server, token: str) -> Totals:
    async with httpx.AsyncClient(base_url=server.base, timeout=60) as c:
        r = await c.get(f"/api/v1/indicators/{STOCK}/yearly", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text[:500]
    return {(u["unit_code"], y["year"]): y["value"] for u in r.json()["units"] for y in u["years"]}


async def _kept_totals(url: str) -> Totals:
    rows = await _rows(url, f"SELECT unit_code, year, value FROM yearly_values WHERE indicator_code = '{STOCK}' "
                            f"AND value IS NOT NULL AND unit_code IN ('{CITY}', '" + "', '".join(DISTRICTS) + "')")
    return {(u, int(y)): float(v) for u, y, v in rows}


def _collapsed(line: list[tuple[Any, float | None]]) -> list[tuple[Any, float | None]]:
    """A series of (stamp, value) with the stamps that left the value as it was dropped."""
    out: list[tuple[Any, float | None]] = []
    for stamp, value in line:
        if (out[-1][1] if out else None) != value:
            out.append((stamp, value))
    return out


async def _history_mismatches(url: str) -> list[str]:
    """Districts and city whose kept history (yearly_value_revisions) differs from a rebuild from the value
    revisions: after each stamp, the sum of every school's latest value — one revision per stamp that moved it."""
    revisions = await _rows(url, "SELECT unit_code, year, recorded_at, action, value FROM measurement_revisions "
                                 f"WHERE indicator_code = '{STOCK}' ORDER BY recorded_at, id")
    rebuilt: dict[tuple[str, int], list[tuple[Any, float | None]]] = {}
    latest: dict[int, dict[str, float]] = {}
    for k, (school, year, stamp, action, value) in enumerate(revisions):
        now = latest.setdefault(int(year), {})
        if action == "delete" or value is None:
            now.pop(school, None)
        else:
            now[school] = float(value)
        if k + 1 < len(revisions) and revisions[k + 1][1:3] == (year, stamp):
            continue  # one write's values share its stamp
        for unit in (*DISTRICTS, CITY):
            mine = [v for s, v in now.items() if unit == CITY or s.startswith(unit)]
            rebuilt.setdefault((unit, int(year)), []).append((stamp, float(sum(mine)) if mine else None))
    kept: dict[tuple[str, int], list[tuple[Any, float | None]]] = {}
    for unit, year, stamp, value in await _rows(
            url, "SELECT unit_code, year, recorded_at, value FROM yearly_value_revisions "
                 f"WHERE indicator_code = '{STOCK}' ORDER BY recorded_at, id"):
        if unit == CITY or unit in DISTRICTS:
            kept.setdefault((unit, int(year)), []).append((stamp, None if value is None else float(value)))
    return [f"{key}: kept {_collapsed(kept.get(key, []))[:3]}…, rebuilt {_collapsed(line)[:3]}…"
            for key, line in sorted(rebuilt.items()) if _collapsed(kept.get(key, [])) != _collapsed(line)]


async def _open_flags(server: Server, token: str) -> dict[tuple[str, int, str], float]:
    async with httpx.AsyncClient(base_url=server.base, timeout=60) as c:
        r = await c.get("/api/v1/quality", params={"indicator": STOCK}, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text[:300]
    return {(f["unit"], f["year"], f["code"]): f["value"] for f in r.json() if f["state"] == "open"}


async def _expected_flags(server: Server, token: str, final: dict[tuple[str, int], int]
                          ) -> dict[tuple[str, int, str], float]:
    """The flags a from-scratch evaluation of the final values finds (schools have four siblings: too few for
    outlier_peers, so only year-on-year jumps)."""
    async with httpx.AsyncClient(base_url=server.base, timeout=60) as c:
        r = await c.get(f"/api/v1/indicators/{STOCK}", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text[:300]
    info = r.json()
    out = {}
    for (school, year), v in final.items():
        jump = quality.yoy(rate=False, previous=final.get((school, year - 1)), current=v,
                           max_change=info["max_yoy_change"], max_points=info["max_yoy_points"])
        if jump is not None:
            out[(school, year, jump.code)] = float(v)
    return out


async def _scrape(server: Server, token: str) -> dict[str, float]:
    """The roll-up's series of one /metrics scrape: name → value (histogram count under its sample name)."""
    async with httpx.AsyncClient(base_url=server.base, timeout=30) as c:
        r = await c.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text[:300]
    out = {}
    for family in text_string_to_metric_families(r.text):
        if family.name.startswith("attain_rollup"):
            for s in family.samples:
                if not s.labels or s.name.endswith("_count"):
                    out[s.name] = s.value
    return out


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    if not await asyncio.to_thread(postgres_reachable):
        pytest.skip("no PostgreSQL server reachable (ATTAIN_TEST_POSTGRES_URL, else 127.0.0.1:5432)")
    async with fresh_postgres("attain_rollup") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/rollup.db"
        return
    if not await asyncio.to_thread(postgres_reachable):
        pytest.skip("no PostgreSQL server reachable (ATTAIN_TEST_POSTGRES_URL, else 127.0.0.1:5432)")
    async with fresh_postgres("attain_rollup") as url:
        yield url


# ---------------------------------------------------------------- two servers, one database

REVISIONS = 2  # values per (school, year), the last one kept
READERS = 2  # per server: every read rolls up what waits first, so roll-ups of one group meet often


async def test_two_servers_share_the_roll_up_and_keep_every_total_exact(postgres_url: str, tmp_path: Path) -> None:
    started = time.monotonic()
    keys = await prepared(postgres_url, schools_per_district=PER_DISTRICT)
    servers = [Server(postgres_url, tmp_path), Server(postgres_url, tmp_path)]
    final: dict[tuple[str, int], int] = {}
    try:
        ready = max(await asyncio.gather(*[s.start() for s in servers]))
        writes_began = time.monotonic()

        async def district_client(k: int, district: str) -> int:
            # One client per district, one request at a time, alternating servers: every (indicator, year) group is
            # written through both at once, and each cell's last value is the one this client sent last.
            rng = random.Random(SEED + k)
            mine = [s for s in SCHOOLS if s.startswith(district)]
            plan = [y for y in YEARS for _ in range(REVISIONS)]
            rng.shuffle(plan)
            async with httpx.AsyncClient(timeout=60) as c:
                for j, year in enumerate(plan):
                    values = {s: rng.randint(0, 100) for s in mine}
                    r = await c.post(servers[(k + j) % 2].base + MEASUREMENTS,
                                     headers={"Authorization": f"Bearer {keys['admin']}"},
                                     json={"values": [{"indicator": STOCK, "unit": s, "period": str(year), "value": v}
                                                      for s, v in values.items()]})
                    assert r.status_code == 200 and r.json()["counts"]["rejected"] == 0, r.text[:300]
                    final.update({(s, year): v for s, v in values.items()})
            return len(plan)

        writing = True

        async def reader(server: Server) -> int:
            reads = 0
            async with httpx.AsyncClient(base_url=server.base, timeout=60) as c:
                while writing:
                    r = await c.get("/api/v1/quality", params={"indicator": STOCK},
                                    headers={"Authorization": f"Bearer {keys['bureau']}"})
                    assert r.status_code == 200, r.text[:300]
                    reads += 1
            return reads

        async def writers() -> int:
            nonlocal writing
            try:
                return sum(await asyncio.gather(*[district_client(k, d) for k, d in enumerate(DISTRICTS)]))
            finally:
                writing = False

        posts, *reads = await asyncio.gather(writers(), *[reader(s) for s in servers for _ in range(READERS)])
        wrote = time.monotonic() - writes_began

        # The backlog each scrape found returns to 0 on both servers (a scrape reports what it found, then rolls up).
        async def caught_up() -> bool:
            found = [await _scrape(s, keys["scraper"]) for s in servers]
            return all(f["attain_rollup_pending_cells"] == 0 and f["attain_rollup_lag_seconds"] == 0 for f in found)

        assert await wait_for(caught_up, timeout=15, step=0.2) is not None, "the roll-up's backlog stayed above 0"
        pooled = _pooled(final)
        for s in servers:
            assert await _read_totals(s, keys["bureau"]) == pooled
        assert await _kept_totals(postgres_url) == pooled
        flags = await _expected_flags(servers[0], keys["bureau"], final)
        assert flags, "the random values jump from year to year"
        assert await _open_flags(servers[1], keys["bureau"]) == flags
        # Never one cell rolled up by both at once: its kept history has no two revisions of one stamp, equals a
        # rebuild from the value revisions, and nothing is left waiting.
        batches = [(await _scrape(s, keys["scraper"])).get("attain_rollup_duration_seconds_count", 0)
                   for s in servers]
        twice = await _rows(postgres_url, "SELECT indicator_code, unit_code, year, recorded_at, COUNT(*) "
                                          "FROM yearly_value_revisions GROUP BY indicator_code, unit_code, year, "
                                          "recorded_at HAVING COUNT(*) > 1")
        assert twice == [], f"cells with two kept revisions of one stamp: {twice[:5]}"
        assert await _dirty(postgres_url) == 0
        wrong = await _history_mismatches(postgres_url)
        assert not wrong, f"kept histories that differ from a rebuild from the value revisions: {wrong[:3]}"
        history = (await _rows(postgres_url, "SELECT COUNT(*) FROM yearly_value_revisions "
                                             f"WHERE indicator_code = '{STOCK}'"))[0][0]
    finally:
        await asyncio.gather(*[asyncio.to_thread(s.stop) for s in servers])
    print(f"\n[two servers] ready in {ready:.1f} s; {posts} posts and {sum(reads)} reads in {wrote:.1f} s; worker "
          f"batches {batches}; {history} kept revisions, {len(flags)} flags; {time.monotonic() - started:.0f} s")


# ---------------------------------------------------------------- paused, killed, restarted


async def test_dirty_cells_survive_kill_9_and_the_restarted_server_rolls_them_up(
    database_url: str, tmp_path: Path
) -> None:
    started = time.monotonic()
    keys = await prepared(database_url, schools_per_district=PER_DISTRICT)
    server = Server(database_url, tmp_path, env={"ATTAIN_ROLLUP_PAUSED": "true"})
    rng = random.Random(SEED)
    final: dict[tuple[str, int], int] = {}
    try:
        await server.start()
        async with httpx.AsyncClient(base_url=server.base, timeout=60) as c:
            for year in (2019, 2020, 2019):  # 2019 twice: the roll-up keeps the last of two stamps
                values = {s: rng.randint(0, 100) for s in SCHOOLS}
                r = await c.post(MEASUREMENTS, headers={"Authorization": f"Bearer {keys['admin']}"},
                                 json={"values": [{"indicator": STOCK, "unit": s, "period": str(year), "value": v}
                                                  for s, v in values.items()]})
                assert r.status_code == 200 and r.json()["counts"]["rejected"] == 0, r.text[:300]
                final.update({(s, year): v for s, v in values.items()})
        server.signal(signal.SIGKILL)
        await asyncio.to_thread(server.reap)

        waiting = await _dirty(database_url)
        assert waiting >= len(final), f"dirty rows after the kill: {waiting}, cells written: {len(final)}"
        assert await _kept_totals(database_url) == {}, "the paused server rolled something up"

        server.env["ATTAIN_ROLLUP_PAUSED"] = "false"
        await server.start()

        async def drained() -> bool:
            return await _dirty(database_url) == 0

        # The restarted server's worker drains the marks on its own: no read has asked for anything yet.
        took = await wait_for(drained, timeout=15, step=0.1)
        assert took is not None, f"rollup_dirty still holds {await _dirty(database_url)} rows after 15 s"
        pooled = _pooled(final)
        assert await _kept_totals(database_url) == pooled
        assert await _read_totals(server, keys["bureau"]) == pooled
    finally:
        await asyncio.to_thread(server.stop)
    print(f"\n[paused, kill -9, restart] {waiting} dirty rows survived, drained in {took:.1f} s, "
          f"{time.monotonic() - started:.0f} s")
