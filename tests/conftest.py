"""Shared fixtures: every API test runs on a fresh SQLite file and, when configured, a fresh PostgreSQL
database — both cloned from a template that the real migrations and the real seed built once."""

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import keys as key_store
from app.db.engine import create_engine, create_session_factory
from app.db.migrate import upgrade
from app.db.seed import seed
from app.domain.keys import Role
from app.main import create_app
from app.settings import SEEDS_DIR, Settings

PG_URL = os.environ.get("ATTAIN_TEST_POSTGRES_URL")
# The reminder scheduler and outbox sender stay off in tests unless one turns them on: tests that drive them call
# them with the clock where they want it (tests/api/test_reminders*.py), and servers they start set it themselves.
os.environ.setdefault("ATTAIN_REMIND_ENABLED", "false")
BACKENDS = ["sqlite", "postgres"] if PG_URL else ["sqlite"]
RUN = uuid.uuid4().hex[:8]


def _pg_dsn(url: str, database: str) -> str:
    u = make_url(url).set(drivername="postgresql", database=database)
    return u.render_as_string(hide_password=False)


def _pg_url(database: str) -> str:
    assert PG_URL
    return make_url(PG_URL).set(database=database).render_as_string(hide_password=False)


async def _pg_admin(sql: str) -> None:
    assert PG_URL
    conn = await asyncpg.connect(_pg_dsn(PG_URL, make_url(PG_URL).database or "postgres"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _seed_database(url: str) -> None:
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(Settings(database_url=url))
    try:
        async with create_session_factory(engine)() as session, session.begin():
            await seed(session, SEEDS_DIR)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def template_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("attain")


@pytest.fixture(scope="session")
async def templates(template_dir: Path) -> AsyncIterator[dict[str, str]]:
    """One migrated, seeded database per backend, cloned for each test."""
    out: dict[str, str] = {}
    sqlite_file = template_dir / "template.db"
    await _seed_database(f"sqlite+aiosqlite:///{sqlite_file}")
    out["sqlite"] = str(sqlite_file)
    if PG_URL:
        name = f"attain_tpl_{RUN}"
        await _pg_admin(f"DROP DATABASE IF EXISTS {name}")
        await _pg_admin(f"CREATE DATABASE {name}")
        await _seed_database(_pg_url(name))
        out["postgres"] = name
    yield out
    if PG_URL:
        await _pg_admin(f"DROP DATABASE IF EXISTS {out['postgres']} WITH (FORCE)")


@pytest.fixture(params=BACKENDS)
async def database_url(
    request: pytest.FixtureRequest, templates: dict[str, str], tmp_path: Path
) -> AsyncIterator[str]:
    """A fresh, migrated and seeded database for one test."""
    if request.param == "sqlite":
        target = tmp_path / "attain.db"
        shutil.copyfile(templates["sqlite"], target)
        yield f"sqlite+aiosqlite:///{target}"
        return
    name = f"attain_t_{RUN}_{uuid.uuid4().hex[:8]}"
    await _pg_admin(f"CREATE DATABASE {name} TEMPLATE {templates['postgres']}")
    try:
        yield _pg_url(name)
    finally:
        await _pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def settings(database_url: str) -> Settings:
    # Keys are looked up on every request here (tests revoke and rotate keys and use them at once); the one-second
    # cache has its own test (tests/api/test_key_cache.py).
    return Settings(database_url=database_url, metrics_public=False, key_cache_seconds=0.0)


@dataclass
class Keys:
    admin: str
    bureau: str
    scraper: str
    city: str
    huangdao: str
    shinan: str
    reviewer: str = ""

    def auth(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def app_ctx(settings: Settings) -> AsyncIterator[object]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def session(app_ctx: object) -> AsyncIterator[AsyncSession]:
    """A session on the test's database, outside any request."""
    async with app_ctx.state.sessions() as s:  # type: ignore[attr-defined]
        yield s


@pytest.fixture
async def keys(app_ctx: object) -> Keys:
    made: dict[str, str] = {}
    specs = {
        "admin": (Role.ADMIN, None), "bureau": (Role.BUREAU, None), "scraper": (Role.SCRAPER, None),
        "city": (Role.DISTRICT, "370200"), "huangdao": (Role.DISTRICT, "370211"), "shinan": (Role.DISTRICT, "370202"),
        "reviewer": (Role.REVIEWER, None),
    }
    async with app_ctx.state.sessions() as s, s.begin():  # type: ignore[attr-defined]
        for name, (role, unit) in specs.items():
            _, token = await key_store.create_key(s, name=f"test {name}", role=role, unit_code=unit)
            made[name] = token
    return Keys(**made)


@pytest.fixture
async def client(app_ctx: object) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app_ctx)  # type: ignore[arg-type]
    # The suite's checks of wording read English; the Chinese default has its own tests (tests/test_i18n.py),
    # and a request may still override the header.
    async with httpx.AsyncClient(transport=transport, base_url="http://attain.test",
                                 headers={"Accept-Language": "en"}) as c:
        yield c


@pytest.fixture
def backend(database_url: str) -> str:
    return "postgres" if database_url.startswith("postgresql") else "sqlite"
