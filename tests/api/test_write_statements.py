"""A single-value POST with an Idempotency-Key runs at most six statements on PostgreSQL — BEGIN, the locks (with the
catalog's version and the key), one read, one write, COMMIT — counted on the connections (SQLAlchemy's cursor
events and asyncpg's query logger, so nothing escapes the count), with the key's cache and the catalog warm."""

from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from app.settings import Settings
from tests.api.helpers import HUANGDAO, batch, post, rate
from tests.conftest import Keys

# SQLite has neither arrays nor writable CTEs: the same read and write are a few statements each.
LIMIT = {"postgres": 6, "sqlite": 12}


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, metrics_public=False, rollup_paused=True)  # the default key cache


@dataclass
class Count:
    on: bool = False
    statements: list[str] = field(default_factory=list)

    def add(self, statement: str) -> None:
        if self.on:
            self.statements.append(" ".join(statement.split())[:100])


@pytest.fixture
async def count(app_ctx: Any) -> Count:
    found = Count()
    engine = app_ctx.state.engine
    sqlite = engine.dialect.name == "sqlite"

    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        driver = getattr(dbapi_conn, "driver_connection", None)
        if hasattr(driver, "add_query_logger"):
            driver.add_query_logger(lambda record: found.add(str(record.query)))

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _execute(_conn, _cursor, statement, _params, _context, _many):  # type: ignore[no-untyped-def]
        found.add(statement)

    @event.listens_for(engine.sync_engine, "commit")
    def _commit(_conn):  # type: ignore[no-untyped-def]
        if sqlite:  # asyncpg logs its own COMMIT; SQLite's is no cursor statement
            found.add("COMMIT")

    await engine.dispose()  # new connections carry the logger
    return found


async def test_a_single_value_post_runs_at_most_six_statements(
    client: httpx.AsyncClient, keys: Keys, count: Count, backend: str
) -> None:
    warm = await post(client, keys.huangdao, batch(HUANGDAO, "2019", rate()), headers={"Idempotency-Key": "warm"})
    assert warm.status_code == 200, warm.text
    count.on = True
    r = await post(client, keys.huangdao, batch(HUANGDAO, "2020", rate(n=950, d=1000)),
                   headers={"Idempotency-Key": "one-value"})
    count.on = False
    assert r.status_code == 200 and r.json()["counts"]["created"] == 1, r.text
    shown = "\n".join(count.statements)
    print(shown)
    assert 3 <= len(count.statements) <= LIMIT[backend], shown
    assert not any("api_keys" in s for s in count.statements), shown  # the key came from its cache
    again = await post(client, keys.huangdao, batch(HUANGDAO, "2020", rate(n=950, d=1000)),
                       headers={"Idempotency-Key": "one-value"})
    assert again.headers["idempotent-replayed"] == "true" and again.content == r.content
