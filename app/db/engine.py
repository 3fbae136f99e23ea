"""Async engine and session factory; created in the app lifespan, never at import time."""

from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from app.settings import Settings


def ensure_sqlite_dir(database_url: str) -> None:
    """Create the folder of an SQLite file so a first start needs no manual step."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)


def create_engine(settings: Settings) -> AsyncEngine:
    """An engine for the configured database, with SQLite tuned for durability and concurrency."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        ensure_sqlite_dir(settings.database_url)
        engine = create_async_engine(url, connect_args={"timeout": settings.db_timeout_seconds})
        _tune_sqlite(engine)
        return engine
    return create_async_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        # No pre-ping: it costs a round trip per request and, on a frozen server, a second timeout. A dead
        # connection fails its first statement instead, which invalidates the pool (the request gets a 503).
        pool_pre_ping=False,
        pool_timeout=settings.db_timeout_seconds,
        connect_args={
            "timeout": settings.db_timeout_seconds,
            # A statement that takes longer means the database is stuck: fail it (503) rather than hang.
            "command_timeout": settings.db_statement_timeout_seconds,
            "server_settings": {"application_name": "attain"},
        },
    )


def _tune_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        # WAL lets readers run beside the writer; synchronous=FULL makes a commit survive a crash.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn):  # type: ignore[no-untyped-def]
        # Writers take the lock up front: two deferred transactions upgrading at once deadlock in SQLite.
        mode = "IMMEDIATE" if conn.get_execution_options().get("sqlite_begin") == "IMMEDIATE" else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")


def create_session_factory(engine: AsyncEngine, *, write: bool = False) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit; `write` ones lock SQLite at BEGIN."""
    bind = engine.execution_options(sqlite_begin="IMMEDIATE") if write else engine
    return async_sessionmaker(bind, expire_on_commit=False)
