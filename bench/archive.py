"""`attain export` / `attain import` at about a million values on PostgreSQL: the store of bench/attainment.py
(schools under the ten districts × every indicator × 10 years, each value with its revision and its kept yearly
total: ~3 million rows), exported by `attain export`, imported by `attain import` into an empty database,
exported again. Prints the time, archive size and peak memory (RSS of the command's process, sampled every
20 ms) of each step, and whether the two archives are the same bytes.

    .venv/bin/python bench/archive.py [--schools-per-district 385] [--years 10]

The goal is a peak below 300 MiB for both commands.
"""

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

import asyncpg
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.db.migrate import upgrade  # noqa: E402
from bench.common import DISTRICTS, dsn, postgres_database, prepare  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024
VALUE_COLUMNS = ["indicator_code", "unit_code", "period", "period_type", "period_start", "period_end", "year",
                 "value", "numerator", "denominator", "comment", "deleted", "updated_at"]
REVISION_COLUMNS = ["indicator_code", "unit_code", "period", "period_type", "period_start", "period_end", "year",
                    "action", "value", "numerator", "denominator", "comment", "old_value", "key_name", "request_id",
                    "recorded_at"]


async def load(url: str, per_district: int, years: list[int]) -> int:
    """COPY the values and their revisions, a district at a time; kept yearly totals by one INSERT … SELECT."""
    conn = await asyncpg.connect(dsn(url))
    try:
        inds = await conn.fetch("SELECT code, measure FROM indicators ORDER BY code")
        now = datetime.now(UTC)
        total = 0
        for d in DISTRICTS:
            rows, revs = [], []
            for i in range(per_district):
                unit = f"{d}{i:05d}"
                for code, measure in inds:
                    for y in years:
                        if measure == "rate":
                            den = 500.0 + (i % 50)
                            num = float(round(den * (0.85 + ((i + y) % 13) / 100)))
                            value, n, dd = 100.0 * num / den, num, den
                        else:
                            value, n, dd = float((i * 7 + y) % 50) + 0.25, None, None
                        rows.append((code, unit, str(y), "year", date(y, 1, 1), date(y, 12, 31), y, value, n, dd,
                                     f"学校填报 {y}", False, now))
                        revs.append((code, unit, str(y), "year", date(y, 1, 1), date(y, 12, 31), y, "create", value,
                                     n, dd, f"学校填报 {y}", None, f"{d}教体局", f"{i:032x}", now))
            await conn.copy_records_to_table("measurements", records=rows, columns=VALUE_COLUMNS)
            await conn.copy_records_to_table("measurement_revisions", records=revs, columns=REVISION_COLUMNS)
            total += len(rows)
        await conn.execute("""
            INSERT INTO yearly_values (indicator_code, unit_code, year, value, numerator, denominator, period,
                                       period_end, own, reported, total, updated_at)
            SELECT indicator_code, unit_code, year, value, numerator, denominator, period, period_end, true, 0, 0,
                   updated_at FROM measurements
        """)
        await conn.execute("ANALYZE")
        return total
    finally:
        await conn.close()


def run_measured(args: list[str], url: str) -> tuple[float, int, str]:
    """Run an attain command; its wall time, peak RSS (bytes) and stderr."""
    env = {**os.environ, "ATTAIN_DATABASE_URL": url, "ATTAIN_DB_STATEMENT_TIMEOUT_SECONDS": "3600"}
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    watched = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            peak = max(peak, watched.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        time.sleep(0.02)
    _, err = proc.communicate()
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"attain {' '.join(args)} failed: {err.decode()[-2000:]}")
    return seconds, peak, err.decode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--schools-per-district", type=int, default=385)
    parser.add_argument("--years", type=int, default=10)
    args = parser.parse_args()
    years = list(range(2025 - args.years + 1, 2026))
    with tempfile.TemporaryDirectory(prefix="attain-archive-") as folder, postgres_database("attain_exp") as source:
        prepare(source, schools_per_district=args.schools_per_district)
        t = time.perf_counter()
        n = asyncio.run(load(source, args.schools_per_district, years))
        print(f"loaded {n} values (+ as many revisions and kept yearly totals) in {time.perf_counter() - t:.0f} s")
        first, second = Path(folder) / "first.zip", Path(folder) / "second.zip"
        key = Path(folder) / "archive.key"
        key.write_text(os.urandom(32).hex())
        signed = ["--key-file", str(key)]
        ex_s, ex_peak, _ = run_measured(["export", str(first), *signed], source)
        with postgres_database("attain_imp") as target:
            upgrade(target)
            im_s, im_peak, _ = run_measured(["import", str(first), *signed], target)
            ex2_s, ex2_peak, _ = run_measured(["export", str(second), *signed], target)
        same = first.read_bytes() == second.read_bytes()
        size = first.stat().st_size
    print(f"export: {ex_s:.0f} s, archive {size / MIB:.0f} MiB, peak RSS {ex_peak / MIB:.0f} MiB")
    print(f"import into an empty PostgreSQL: {im_s:.0f} s, peak RSS {im_peak / MIB:.0f} MiB")
    print(f"export of the imported store: {ex2_s:.0f} s, peak RSS {ex2_peak / MIB:.0f} MiB; "
          f"archives {'identical' if same else 'DIFFERENT'}")
    print(f"goal: peak < 300 MiB — {'met' if max(ex_peak, im_peak, ex2_peak) < 300 * MIB else 'NOT met'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
