"""The reminder scheduler and the outbox sender as background loops of every `attain serve` process.

Each loop runs at start and then every ATTAIN_REMIND_EVERY_SECONDS (scheduler) or ATTAIN_SEND_EVERY_SECONDS
(sender); the scheduler wakes the sender when it created something. Every process runs both: the advisory lock,
the notifications' unique key and the channels' leases keep the work done once.
"""

import asyncio
import contextlib

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.services import outbox, reminders
from app.settings import Settings

log = structlog.get_logger()


class Loops:
    def __init__(self, settings: Settings, write_sessions: async_sessionmaker[AsyncSession]) -> None:
        self.settings = settings
        self.sessions = write_sessions
        self.wake = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []
        self.http: httpx.AsyncClient | None = None

    async def remind(self) -> reminders.Run:
        async with self.sessions() as session, session.begin():
            run = await reminders.run_once(session, public_url=self.settings.public_url)
        if run.created:
            self.wake.set()
        return run

    async def send(self) -> int:
        assert self.http is not None
        return await outbox.send_due(self.sessions, self.http, quiet_hours=self.settings.quiet_hours)

    async def _scheduler(self) -> None:
        while True:
            try:
                await self.remind()
            except Exception:  # a failed round is retried at the next one; the server keeps serving
                log.exception("reminder scheduler round failed")
            await asyncio.sleep(self.settings.remind_every_seconds)

    async def _sender(self) -> None:
        while True:
            try:
                await self.send()
            except Exception:
                log.exception("outbox sender round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=self.settings.send_every_seconds)
            self.wake.clear()

    def start(self) -> None:
        self.http = outbox.client()
        self.tasks = [asyncio.create_task(self._scheduler(), name="attain-reminders"),
                      asyncio.create_task(self._sender(), name="attain-outbox")]

    async def stop(self) -> None:
        for t in self.tasks:
            t.cancel()
        for t in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        if self.http is not None:
            await self.http.aclose()
