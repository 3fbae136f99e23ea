"""Ingestion throughput: HTTP batches (5,000 values, auth, validation, revisions, idempotency key) against a real
uvicorn on PostgreSQL, and — in the same run — the database's own share: the same rows written by raw asyncpg
into the same tables (measurement upsert + revision insert, one transaction per 5,000 rows, unnest).
Prints values/s for both, their ratio, and the SQLite HTTP figure.

    .venv/bin/python bench/ingest.py [--batches 8] [--batch-size 5000]
"""

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import asyncpg
import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import DISTRICTS, dsn, postgres_database, prepare, uvicorn_server  # noqa: E402

INDICATOR = "t03-campus-network-compliance"


def schools(per_district: int) -> list[str]:
    return [f"{d}{i:05d}" for d in DISTRICTS for i in range(per_district)]


def batch(units: list[str], year: int) -> list[dict[str, object]]:
    return [{"indicator": INDICATOR, "unit": u, "period": str(year), "numerator": 900 + (i % 97),
             "denominator": 1000} for i, u in enumerate(units)]


def http_run(base: str, token: str, units: list[str], years: list[int]) -> tuple[float, float]:
    """Values per second over HTTP, one request per year's batch: until the last batch was acknowledged, and until
    a read (the city's yearly values) reflects it — what the roll-up behind the writes adds."""
    headers = {"Authorization": f"Bearer {token}"}
    total = 0
    with httpx.Client(base_url=base, timeout=300) as client:
        # One warm-up request (connection, caches, first-statement planning) outside the timing.
        client.post("/api/v1/measurements", json={"values": batch(units[:50], 2010)}, headers=headers)
        # Bodies are encoded before the clock starts: the client's JSON work is not the service's.
        bodies = [orjson.dumps({"values": batch(units, year)}) for year in years]
        started = time.perf_counter()
        for body in bodies:
            r = client.post("/api/v1/measurements", content=body,
                            headers={**headers, "Idempotency-Key": uuid.uuid4().hex,
                                     "Content-Type": "application/json"})
            r.raise_for_status()
            assert r.json()["counts"]["created"] == len(units), r.text[:300]
            total += len(units)
        acknowledged = time.perf_counter() - started
        found = client.get(f"/api/v1/indicators/{INDICATOR}/yearly", headers=headers)
        found.raise_for_status()
        reflected = time.perf_counter() - started
        city = next(u for u in found.json()["units"] if u["unit_code"] == "370200")
        last = next(y for y in city["years"] if y["year"] == years[-1])
        rows = batch(units, years[-1])
        pooled = 100 * sum(r["numerator"] for r in rows) / sum(r["denominator"] for r in rows)  # type: ignore[misc]
        assert abs(last["value"] - pooled) < 1e-6, (last, pooled)
        return total / acknowledged, total / reflected


UPSERT = """
INSERT INTO measurements (indicator_code, unit_code, period, period_type, period_start, period_end, year, value,
                          numerator, denominator, comment, deleted, updated_at)
SELECT $1, u, $2, 'year', $3, $4, $5, v, n, d, NULL, false, $6
FROM unnest($7::text[], $8::float8[], $9::float8[], $10::float8[]) AS t(u, v, n, d)
ON CONFLICT (indicator_code, unit_code, period) DO UPDATE
SET value = excluded.value, numerator = excluded.numerator, denominator = excluded.denominator,
    comment = excluded.comment, deleted = excluded.deleted, updated_at = excluded.updated_at
"""
REVISIONS = """
INSERT INTO measurement_revisions (indicator_code, unit_code, period, period_type, period_start, period_end, year,
                                   action, value, numerator, denominator, comment, old_value, key_name, request_id,
                                   recorded_at)
SELECT $1, u, $2, 'year', $3, $4, $5, 'create', v, n, d, NULL, NULL, 'bench raw', NULL, $6
FROM unnest($7::text[], $8::float8[], $9::float8[], $10::float8[]) AS t(u, v, n, d)
"""


async def raw_run(url: str, units: list[str], years: list[int]) -> float:
    """Values per second for the database's own work: upsert + revisions, one transaction per batch."""
    conn = await asyncpg.connect(dsn(url))
    try:
        total = 0
        started = time.perf_counter()
        for year in years:
            rows = batch(units, year)
            nums = [float(r["numerator"]) for r in rows]  # type: ignore[arg-type]
            dens = [float(r["denominator"]) for r in rows]  # type: ignore[arg-type]
            vals = [100.0 * n / d for n, d in zip(nums, dens, strict=True)]
            args = (INDICATOR, str(year), date(year, 1, 1), date(year, 12, 31), year, datetime.now(UTC), units, vals,
                    nums, dens)
            async with conn.transaction():
                await conn.execute(UPSERT, *args)
                await conn.execute(REVISIONS, *args)
            total += len(units)
        return total / (time.perf_counter() - started)
    finally:
        await conn.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--batches", type=int, default=8)
    ap.add_argument("--batch-size", type=int, default=5000)
    args = ap.parse_args()
    per_district = args.batch_size // len(DISTRICTS)
    units = schools(per_district)
    http_years = list(range(1990, 1990 + args.batches))
    raw_years = list(range(1960, 1960 + args.batches))
    print(f"batches of {len(units)} values × {args.batches}; schools under 10 districts: {len(units)}")
    with postgres_database() as url:
        keys = prepare(url, schools_per_district=per_district)
        raw_warm = asyncio.run(raw_run(url, units, [1950]))
        with uvicorn_server(url) as base:
            http_pg, read_pg = http_run(base, keys["admin"], units, http_years)
        raw_pg = asyncio.run(raw_run(url, units, raw_years))
    del raw_warm
    with tempfile.TemporaryDirectory() as tmp:
        sqlite_url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        keys = prepare(sqlite_url, schools_per_district=per_district)
        with uvicorn_server(sqlite_url) as base:
            http_sqlite, read_sqlite = http_run(base, keys["admin"], units, http_years)
    load = os.getloadavg()[0]
    print(f"PostgreSQL HTTP path : {http_pg:10.0f} values/s acknowledged  (auth, validation, revisions, dirty cells, "
          f"idempotency)  load average {load:.2f}")
    print(f"                       {read_pg:10.0f} values/s until a read reflects the last batch (roll-up included)")
    print(f"PostgreSQL raw asyncpg: {raw_pg:10.0f} values/s  (upsert + revision insert via unnest)")
    print(f"ratio HTTP / raw      : {http_pg / raw_pg:10.2f}  (target >= 0.50)")
    print(f"SQLite HTTP path     : {http_sqlite:10.0f} values/s acknowledged, {read_sqlite:.0f} until a read "
          "reflects the last batch")


if __name__ == "__main__":
    main()
