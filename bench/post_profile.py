"""One single-value POST, in process: CPU per request and the SQL statements it runs, on PostgreSQL.

Runs the app through httpx's ASGI transport (no HTTP server, no network) against a fresh database with
`--schools` schools under each district, POSTs `--requests` single-value submissions with an Idempotency-Key
(each to a different school and year), and prints the CPU time per request — request path and roll-up apart —
and the statements one request runs (counted by SQLAlchemy's cursor events and the asyncpg connections' query
loggers, so SQLAlchemy's statements and the raw driver's alike; BEGIN and COMMIT included). With --profile, a
cProfile of the request path, top 25 by cumulative time.

    .venv/bin/python bench/post_profile.py --requests 300 --schools 100 [--profile]
"""

import argparse
import asyncio
import cProfile
import os
import pstats
import sys
import time
from pathlib import Path

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.main import create_app  # noqa: E402
from app.settings import Settings  # noqa: E402
from bench.common import DISTRICTS, postgres_database, prepare  # noqa: E402

INDICATOR = "t03-campus-network-compliance"


def body(g: int, schools: int) -> bytes:
    school = g % (len(DISTRICTS) * schools)
    unit = f"{DISTRICTS[school // schools]}{school % schools:05d}"
    return orjson.dumps({"values": [{"indicator": INDICATOR, "unit": unit, "period": str(1990 + g // 997 % 30),
                                     "numerator": g % 1000, "denominator": 1000}]})


async def run(url: str, token: str, args: argparse.Namespace) -> None:  # noqa: C901
    app = create_app(Settings(database_url=url, rollup_paused=True, log_level="warning"))
    statements: list[str] = []
    counting = False

    def logged(record: object) -> None:
        if counting:
            statements.append(getattr(record, "query", "?"))

    async with app.router.lifespan_context(app):
        engine = app.state.engine

        from sqlalchemy import event

        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            dbapi_conn.driver_connection.add_query_logger(logged)

        @event.listens_for(engine.sync_engine, "before_cursor_execute")
        def _on_execute(_conn, _cursor, statement, _params, _context, _many):  # type: ignore[no-untyped-def]
            if counting:
                statements.append(statement)

        await engine.dispose()  # new connections carry the logger
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

            async def post(g: int) -> None:
                r = await client.post("/api/v1/measurements", content=body(g, args.schools),
                                      headers={**headers, "Idempotency-Key": f"bench-{g}"})
                assert r.status_code == 200, r.text

            for g in range(50):  # warm: caches, prepared statements, the key's last use
                await post(g)
            await app.state.rollup.once()
            counting = True
            await post(10_000_000)
            counting = False
            one = list(statements)
            profiler = cProfile.Profile() if args.profile else None
            rollup_profiler = cProfile.Profile() if args.profile_rollup else None
            cpu0, wall0 = time.process_time(), time.perf_counter()
            if profiler:
                profiler.enable()
            rolled = 0.0
            for g in range(100, 100 + args.requests):
                await post(g)
                if args.rollup_every and (g - 99) % args.rollup_every == 0:
                    if profiler:
                        profiler.disable()
                    if rollup_profiler:
                        rollup_profiler.enable()
                    started = time.process_time()
                    while await app.state.rollup.once():
                        pass
                    rolled += time.process_time() - started
                    if rollup_profiler:
                        rollup_profiler.disable()
                    if profiler:
                        profiler.enable()
            if profiler:
                profiler.disable()
            request_cpu, wall1 = time.process_time() - cpu0 - rolled, time.perf_counter()
            started = time.process_time()
            while await app.state.rollup.once():
                pass
            rolled += time.process_time() - started
    load = os.getloadavg()[0]
    n = args.requests
    print(f"load average {load:.2f}")
    print(f"request path: {request_cpu / n * 1000:.2f} ms CPU per POST ({(wall1 - wall0) / n * 1000:.2f} ms wall, "
          "roll-ups included)")
    every = f"every {args.rollup_every} POSTs" if args.rollup_every else "once, afterwards"
    print(f"roll-up ({every}): {rolled / n * 1000:.2f} ms CPU per POST")
    print(f"statements in one POST: {len(one)}")
    for s in one:
        print("   ", " ".join(s.split())[:150])
    for found in (profiler, rollup_profiler):
        if found:
            pstats.Stats(found).sort_stats("tottime").print_stats(30)
            if args.profile_out:
                found.dump_stats(args.profile_out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--schools", type=int, default=100, help="schools per district")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--profile-out", help="also write the profile to this file (pstats)")
    ap.add_argument("--profile-rollup", action="store_true", help="a cProfile of the roll-ups (with --rollup-every)")
    ap.add_argument("--rollup-every", type=int, default=0,
                    help="roll up after every N POSTs (a quiet hour's batches), not once after all")
    args = ap.parse_args()
    with postgres_database() as url:
        keys = prepare(url, schools_per_district=args.schools)
        asyncio.run(run(url, keys["admin"], args))


if __name__ == "__main__":
    main()
