"""The full city attainment report on about a million values: 4,000 schools under the ten districts × every
indicator × 10 yearly periods, on PostgreSQL. Prints p50/p95 of GET /api/v1/attainment (default as_of) through a
real uvicorn, the time of one bare SQL aggregate (Σ per indicator, district and year) over the same table, their
ratio, the figure for a past as_of, and the /metrics scrape time and series count.

    .venv/bin/python bench/attainment.py [--schools-per-district 400] [--years 10] [--requests 40]

The values are bulk-loaded with COPY (this measures reading, not ingestion) — every indicator is given to the
schools, city-level ones included, only to reach the volume; kept yearly rows of the schools are built by one
INSERT … SELECT and those of the districts and the city summed from them by the service's own code (db.yearly).
"""

import argparse
import asyncio
import statistics
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.db import yearly_rebuild  # noqa: E402
from app.db.catalog import read_catalog  # noqa: E402
from app.db.engine import create_engine, create_session_factory  # noqa: E402
from app.settings import Settings  # noqa: E402
from bench.common import DISTRICTS, dsn, percentile, postgres_database, prepare, uvicorn_server  # noqa: E402

BARE = """
SELECT m.indicator_code, u.parent_code, m.year, sum(m.value)
FROM measurements m JOIN units u ON u.code = m.unit_code
GROUP BY m.indicator_code, u.parent_code, m.year
"""


async def load(url: str, per_district: int, years: list[int]) -> int:
    conn = await asyncpg.connect(dsn(url))
    try:
        inds = await conn.fetch("SELECT code, measure, max_value FROM indicators ORDER BY code")
        now = datetime.now(UTC)
        rows = []
        revs = []
        for d in DISTRICTS:
            for i in range(per_district):
                unit = f"{d}{i:05d}"
                for code, measure, _high in inds:
                    for y in years:
                        if measure == "rate":
                            den = 500.0 + (i % 50)
                            num = den * (0.85 + ((i + y) % 13) / 100)
                            value, n, dd = 100.0 * num / den, num, den
                        else:
                            value, n, dd = float((i * 7 + y) % 50), None, None
                        rows.append((code, unit, str(y), "year", date(y, 1, 1), date(y, 12, 31), y, value, n, dd,
                                     None, False, now))
                        revs.append((code, unit, str(y), "year", date(y, 1, 1), date(y, 12, 31), y, "create", value,
                                     n, dd, None, None, "bench load", None, now))
        flows = {code for code, measure, _ in inds if measure == "flow"}
        rows = [(*r, r[0] in flows) for r in rows]
        cols = ["indicator_code", "unit_code", "period", "period_type", "period_start", "period_end", "year", "value",
                "numerator", "denominator", "comment", "deleted", "updated_at", "is_flow"]
        await conn.copy_records_to_table("measurements", records=rows, columns=cols)
        rcols = ["indicator_code", "unit_code", "period", "period_type", "period_start", "period_end", "year",
                 "action", "value", "numerator", "denominator", "comment", "old_value", "key_name", "request_id",
                 "recorded_at"]
        await conn.copy_records_to_table("measurement_revisions", records=revs, columns=rcols)
        # Schools have one yearly period each: their kept row is that value, their own and covering.
        await conn.execute("""
            INSERT INTO yearly_values (indicator_code, unit_code, year, value, numerator, denominator, period,
                                       period_start, period_end, own, reported, total, own_value, own_numerator,
                                       own_denominator, own_period, own_period_start, own_period_end, own_covers,
                                       kids_value, kids_numerator, kids_denominator, kids_count, updated_at)
            SELECT indicator_code, unit_code, year, value, numerator, denominator, period, period_start,
                   period_end, true, 0, 0, value, numerator, denominator, period, period_start, period_end, true,
                   0, 0, 0, 0, updated_at FROM measurements
        """)
        await conn.execute("ANALYZE")
        return len(rows)
    finally:
        await conn.close()


async def refresh_upper(url: str, years: list[int]) -> None:
    # The districts' and the city's kept rows summed from their children's by the service's own code, one level
    # after the other; then every kept row's first revision, so a past as_of has rows to read.
    engine = create_engine(Settings(database_url=url, db_statement_timeout_seconds=600))
    try:
        async with create_session_factory(engine, write=True)() as s, s.begin():
            cat = await read_catalog(s)
            now = datetime.now(UTC)
            districts = {(i, d, y) for i in cat.indicators for d in DISTRICTS for y in years}
            await yearly_rebuild.resum(s, cat, districts, now=now)
            await yearly_rebuild.resum(s, cat, {(i, "370200", y) for i in cat.indicators for y in years}, now=now)
            await s.execute(text(
                "INSERT INTO yearly_value_revisions (indicator_code, unit_code, year, value, numerator, denominator, "
                "period, period_start, period_end, own, reported, total, own_value, own_numerator, own_denominator, "
                "own_period, own_period_start, own_period_end, own_covers, kids_value, kids_numerator, "
                "kids_denominator, kids_count, kids_period, kids_period_start, kids_period_end, recorded_at) "
                "SELECT indicator_code, unit_code, year, value, numerator, denominator, period, period_start, "
                "period_end, own, reported, total, own_value, own_numerator, own_denominator, own_period, "
                "own_period_start, own_period_end, own_covers, kids_value, kids_numerator, kids_denominator, "
                "kids_count, kids_period, kids_period_start, kids_period_end, updated_at FROM yearly_values"))
        async with create_session_factory(engine)() as s, s.begin():
            await s.execute(text("ANALYZE"))
    finally:
        await engine.dispose()


async def bare(url: str, runs: int = 5) -> float:
    conn = await asyncpg.connect(dsn(url))
    try:
        await conn.fetch(BARE)
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            await conn.fetch(BARE)
            times.append(time.perf_counter() - t)
        return statistics.median(times)
    finally:
        await conn.close()


def timed(client: httpx.Client, path: str, n: int, headers: dict[str, str], **params: str) -> list[float]:
    client.get(path, params=params, headers=headers).raise_for_status()
    out = []
    for _ in range(n):
        t = time.perf_counter()
        r = client.get(path, params=params, headers=headers)
        out.append(time.perf_counter() - t)
        r.raise_for_status()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--schools-per-district", type=int, default=400)
    ap.add_argument("--years", type=int, default=10)
    ap.add_argument("--requests", type=int, default=40)
    args = ap.parse_args()
    years = list(range(2025 - args.years + 1, 2026))
    with postgres_database() as url:
        keys = prepare(url, schools_per_district=args.schools_per_district)
        t = time.perf_counter()
        n = asyncio.run(load(url, args.schools_per_district, years))
        asyncio.run(refresh_upper(url, years))
        print(f"loaded {n} values ({len(DISTRICTS) * args.schools_per_district} schools × every indicator × "
              f"{len(years)} years) in {time.perf_counter() - t:.0f} s")
        bare_s = asyncio.run(bare(url))
        h = {"Authorization": f"Bearer {keys['bureau']}"}
        with uvicorn_server(url) as base, httpx.Client(base_url=base, timeout=600) as client:
            rows = client.get("/api/v1/attainment", headers=h).json()["rows"]
            report = timed(client, "/api/v1/attainment", args.requests, h)
            past = timed(client, "/api/v1/attainment", 3, h, as_of=datetime.now(UTC).isoformat())
            scrape = timed(client, "/metrics", 10, {"Authorization": f"Bearer {keys['scraper']}"})
            text = client.get("/metrics", headers={"Authorization": f"Bearer {keys['scraper']}"}).text
        series = sum(1 for line in text.splitlines() if line and not line.startswith("#"))
        collect = [line for line in text.splitlines() if line.startswith("attain_scrape_collect_seconds ")]
    p50, p95 = percentile(report, 50) * 1000, percentile(report, 95) * 1000
    print(f"city report ({len(rows)} rows), default as_of: p50 {p50:.1f} ms, p95 {p95:.1f} ms "
          f"over {len(report)} requests (target p95 < 100 ms)")
    print(f"bare SQL aggregate (Σ per indicator, district, year): {bare_s * 1000:.1f} ms (median of 5)")
    print(f"ratio p95 / bare aggregate: {p95 / (bare_s * 1000):.2f} (target <= 3)")
    print(f"past as_of (kept rows valid then): median {statistics.median(past) * 1000:.0f} ms "
          f"({statistics.median(past) * 1000 / p50:.0f}× the default)")
    print(f"/metrics: p50 {percentile(scrape, 50) * 1000:.1f} ms, p95 {percentile(scrape, 95) * 1000:.1f} ms, "
          f"{series} samples; {collect[0] if collect else ''}")


if __name__ == "__main__":
    main()
