"""Helpers for the reminder tests: run the scheduler and the sender as a server would, on the test's database."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.engine import create_engine, create_session_factory
from app.db.models import Deliverable
from app.db.notify_models import Notification
from app.services import outbox, reminders
from app.settings import Settings

PUBLIC = "https://attain.example.cn"


@asynccontextmanager
async def server_like(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Write sessions on a fresh engine: what one `attain serve` process holds (a new one is a restart)."""
    engine = create_engine(Settings(database_url=database_url))
    try:
        yield create_session_factory(engine, write=True)
    finally:
        await engine.dispose()


async def run(sessions: async_sessionmaker[AsyncSession]) -> reminders.Run:
    async with sessions() as s, s.begin():
        return await reminders.run_once(s, public_url=PUBLIC)


async def send(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with outbox.client() as http:
        return await outbox.send_due(sessions, http)


async def notices(sessions: async_sessionmaker[AsyncSession], **where: Any) -> list[Any]:
    N = Notification.__table__  # type: ignore[attr-defined]
    stmt = select(N).order_by(N.c.id)
    for k, v in where.items():
        stmt = stmt.where(N.c[k] == v)
    async with sessions() as s, s.begin():
        return list((await s.execute(stmt)).all())


async def set_deadline(sessions: async_sessionmaker[AsyncSession], code: str, deadline: date | None) -> None:
    D = Deliverable.__table__  # type: ignore[attr-defined]
    async with sessions() as s, s.begin():
        await s.execute(update(D).where(D.c.code == code).values(deadline=deadline))


async def only_deliverables(sessions: async_sessionmaker[AsyncSession], keep: set[str]) -> None:
    """Leave deadlines on the given deliverables only (so a test counts what it means to)."""
    D = Deliverable.__table__  # type: ignore[attr-defined]
    async with sessions() as s, s.begin():
        await s.execute(update(D).where(D.c.code.not_in(sorted(keep))).values(deadline=None))


async def sql(sessions: async_sessionmaker[AsyncSession], statement: str) -> list[Any]:
    async with sessions() as s, s.begin():
        return list((await s.execute(text(statement))).all())
