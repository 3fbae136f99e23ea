"""The longer Schemathesis run: every role's key against the served OpenAPI, on PostgreSQL by default, with many
more examples per operation than CI. Same engine, checks and contract (CONTRACT_4XX) as
tests/reliability/test_schemathesis.py; each role gets a fresh, migrated and seeded database. Prints what each
run found and a summary, and exits 1 if anything failed.

    .venv/bin/python bench/fuzz.py [--max-examples 100] [--backend postgres|sqlite] [--roles admin,district]
                                   [--seed 2019]

PostgreSQL is reached at ATTAIN_BENCH_POSTGRES_URL (default postgresql+asyncpg://postgres@127.0.0.1:5432/postgres).
"""

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import select
from sqlmodel import col

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.db import keys as key_store  # noqa: E402
from app.db.engine import create_engine, create_session_factory  # noqa: E402
from app.db.models import ApiKey  # noqa: E402
from app.domain.keys import Role  # noqa: E402
from app.main import create_app  # noqa: E402
from app.settings import Settings  # noqa: E402
from bench.common import postgres_database, prepare  # noqa: E402
from tests.reliability.test_schemathesis import Report, run_schemathesis  # noqa: E402

ROLES = ("admin", "bureau", "district", "scraper")


@contextmanager
def database(backend: str) -> Iterator[str]:
    """A fresh, empty database of the given kind."""
    if backend == "postgres":
        with postgres_database("attain_fuzz") as url:
            yield url
        return
    with tempfile.TemporaryDirectory(prefix="attain-fuzz-") as folder:
        yield f"sqlite+aiosqlite:///{folder}/attain.db"


def keys_for(url: str) -> tuple[dict[str, str], set[int]]:
    """Migrate and seed; a key per role (the district key is 黄岛区's); the ids of every key."""
    tokens = prepare(url, schools_per_district=0)

    async def more() -> set[int]:
        engine = create_engine(Settings(database_url=url))
        try:
            async with create_session_factory(engine, write=True)() as s, s.begin():
                _, tokens["district"] = await key_store.create_key(s, name="fuzz district", role=Role.DISTRICT,
                                                                   unit_code="370211")
                return {i for (i,) in (await s.execute(select(col(ApiKey.id)))).all() if i is not None}
        finally:
            await engine.dispose()

    return tokens, asyncio.run(more())


def still_valid(url: str, token: str) -> bool:
    """Whether the run's own key still authenticates (if not, its later 401s said nothing about the input)."""
    async def probe() -> bool:
        engine = create_engine(Settings(database_url=url))
        try:
            async with engine.connect() as conn:
                return await key_store.authenticate(conn, token) is not None
        finally:
            await engine.dispose()

    return asyncio.run(probe())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-examples", type=int, default=100, help="Hypothesis examples per operation and phase")
    parser.add_argument("--backend", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--roles", default=",".join(ROLES), help="comma-separated subset of " + ",".join(ROLES))
    parser.add_argument("--seed", type=int, default=2019)
    args = parser.parse_args()
    roles = [r.strip() for r in args.roles.split(",") if r.strip()]
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        parser.error(f"unknown role(s): {', '.join(unknown)}")

    reports: list[Report] = []
    started = time.monotonic()
    for role in roles:
        with database(args.backend) as url:
            tokens, key_ids = keys_for(url)
            app = create_app(Settings(database_url=url, metrics_public=False, log_level="warning"))
            report = run_schemathesis(app, role=role, token=tokens[role], max_examples=args.max_examples,
                                      protected_key_ids=key_ids, seed=args.seed)
            if not still_valid(url, tokens[role]):
                report.errors.append("the run's own key no longer authenticates")
        print(report.render(), flush=True)
        reports.append(report)

    print(f"\nschemathesis {args.backend}, max-examples {args.max_examples}, seed {args.seed}, "
          f"{time.monotonic() - started:.0f} s in all")
    print(f"{'role':<10}{'requests':>10}{'seconds':>9}{'findings':>10}{'errors':>8}  statuses")
    for r in reports:
        print(f"{r.role:<10}{r.requests:>10}{r.elapsed:>9.0f}{len(r.findings):>10}{len(r.errors):>8}  "
              f"{dict(sorted(r.statuses.items()))}")
    failed = [r.role for r in reports if r.failed]
    print("FAILED: " + ", ".join(failed) if failed else "no failures")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
