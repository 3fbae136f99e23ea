"""The roll-up: kept yearly rows brought up to date behind the writes, and the worker that runs it.

A write stores its values, their revisions and "dirty" marks for the yearly cells it changed (db.rollup.mark).
The roll-up takes the marks of whole (indicator, year) groups, recomputes the kept rows of those cells and of their
ancestors level by level — deepest first, each level one read — writes one kept-row revision per distinct stamp
from the oldest mark's stamp on (domain.timeline), and keeps the quality flags of what changed, in one transaction.
Every server process runs a worker; reads call `settle` first, so a read never misses an acknowledged value.
"""

import asyncio
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import rollup as store
from app.db.catalog import CatalogCache
from app.db.types import utcnow
from app.db.yearly import _state
from app.domain.catalog import Catalog
from app.domain.timeline import EMPTY, Line, State, combine, combine_delta, own_line
from app.domain.yearly import Measure
from app.services import quality

log = structlog.get_logger(__name__)

Cell = tuple[str, str, int]
Group = tuple[str, int]

# Groups taken per transaction: enough to amortise a busy deadline's writes, few enough to commit often.
BATCH_GROUPS = 200


@dataclass
class Done:
    groups: int = 0
    cells: int = 0


def _line_of(kept: tuple[State, list[tuple[datetime, State]]] | None) -> Line:
    if kept is None:
        return Line(EMPTY)
    return Line(kept[0], tuple(kept[1]))


async def recompute(session: AsyncSession, catalog: Catalog, dirty: dict[Group, set[str]], *, since: datetime,
                    now: datetime, force: bool = False) -> list[Cell]:
    """Recompute the kept rows and history (from `since` on) of the dirty cells and their ancestors; the dirty
    cells whose rows exist in the catalog. With `force`, `since` is a stamp of every dirty cell (a rule changed)."""
    marked = {(ind, u, y) for (ind, y), units in dirty.items() for u in units
              if ind in catalog.indicators and u in catalog.units}
    affected = set(marked)
    for ind, unit, year in marked:
        affected.update((ind, a, year) for a in catalog.ancestors(unit))
    kept = await store.kept_lines(session, sorted(affected), since=since)
    revisions = await store.value_revisions(session, sorted(marked))
    depth = {c: len(catalog.ancestors(c[1])) for c in affected}
    lines: dict[Cell, Line] = {}
    for level in sorted(set(depth.values()), reverse=True):
        full: list[tuple[Cell, Any]] = []
        for cell in sorted(c for c in affected if depth[c] == level):
            ind, unit, year = cell
            measure = Measure(catalog.indicators[ind].measure)
            mine = _line_of(kept.get(cell))
            if cell in marked:
                own = own_line(measure=measure, year=year, revisions=revisions.get(cell, []), since=since,
                               force=force)
            else:
                own = (mine.base.own, [(s, st.own) for s, st in mine.changes])
            kids = catalog.children.get(unit, ())
            line = None
            if not force:
                # Most parents change by a few children's shares: the others are not read.
                changed = {k: (_line_of(kept.get((ind, k, year))), lines[(ind, k, year)]) for k in kids
                           if (ind, k, year) in lines}
                line = combine_delta(measure=measure, year=year, total=len(kids), own=own, old=mine,
                                     changed=changed)
            if line is None:
                full.append((cell, own))
            else:
                lines[cell] = line
        if full:
            around = {(c[0], k, c[2]) for c, _ in full for k in catalog.children.get(c[1], ())} - set(lines)
            more = await store.kept_lines(session, sorted(around), since=since)
            for cell, own in full:
                ind, unit, year = cell
                children: dict[str, Line] = {}
                for kid in catalog.children.get(unit, ()):
                    k = (ind, kid, year)
                    line = lines[k] if k in lines else _line_of(more.get(k))
                    if line.base.value is not None or line.changes:
                        children[kid] = line
                lines[cell] = combine(measure=Measure(catalog.indicators[ind].measure), year=year,
                                      total=len(catalog.children.get(unit, ())), own=own, children=children,
                                      stored=_line_of(kept.get(cell)).base)
    rows: list[dict[str, Any]] = []
    history: list[dict[str, Any]] = []
    for (ind, unit, year), line in lines.items():
        total = len(catalog.children.get(unit, ()))
        key = {"indicator_code": ind, "unit_code": unit, "year": year}
        last = line.last
        rows.append({**key, **_state(last.own, last.sums, last.value, total), "updated_at": now})
        history.extend({**key, **_state(st.own, st.sums, st.value, total), "recorded_at": s}
                       for s, st in line.changes)
    await store.store(session, rows, history, cells=sorted(affected), since=since)
    return sorted(marked)


async def roll_up(session: AsyncSession, catalog: Catalog, *, groups: Sequence[Group] | None = None,
                  wait: bool, limit: int = BATCH_GROUPS) -> Done:
    """One batch: hold waiting groups (all given ones with `wait`, else those free now), recompute, keep flags."""
    if groups is None:
        groups = await store.waiting_groups(session, limit=limit)
    if not groups:
        return Done()
    held = await store.hold(session, groups, wait=wait)
    dirty, since = await store.take(session, held)
    if not dirty or since is None:
        return Done()
    changed = await recompute(session, catalog, dirty, since=since, now=utcnow())
    if changed:
        await quality.keep(session, catalog, changed)
    return Done(len(dirty), len(changed))


@dataclass(frozen=True, slots=True)
class Backlog:
    """Dirty rows waiting when a read began, and the stamp of the oldest (the roll-up's lag)."""

    cells: int = 0
    oldest: datetime | None = None

    def lag_seconds(self, now: datetime) -> float:
        return max(0.0, (now - self.oldest).total_seconds()) if self.oldest is not None else 0.0


async def settle(sessions: async_sessionmaker[AsyncSession], write_sessions: async_sessionmaker[AsyncSession],
                 catalogs: CatalogCache) -> Backlog:
    """Roll up everything waiting now, waiting for any roll-up under way: called before a read of kept rows, so
    the read reflects every value acknowledged before it started. Returns the backlog it found."""
    async with sessions() as s:
        cells, oldest = await store.backlog(s)
    found = Backlog(cells, oldest)
    if not cells:
        return found
    async with write_sessions() as session, session.begin():
        catalog = await catalogs.snapshot(session)
        groups = await store.waiting_groups(session, limit=1_000_000)
        for part in range(0, len(groups), BATCH_GROUPS):
            await roll_up(session, catalog, groups=groups[part:part + BATCH_GROUPS], wait=True)
    return found


async def settle_app(state: Any) -> Backlog:
    """`settle` with an application's resources."""
    return await settle(state.sessions, state.write_sessions, state.catalogs)


async def rebuild(session: AsyncSession, catalog: Catalog, *, since: datetime, indicator: str | None = None) -> int:
    """Recompute kept rows and their history from `since` on from the value revisions — all, or one indicator's
    after its measure changed (`since` = the change) — with the caller holding writers out. Returns the cells."""
    cells = await store.every_cell(session, indicator=indicator)
    dirty: dict[Group, set[str]] = defaultdict(set)
    for ind, unit, year in cells:
        dirty[(ind, year)].add(unit)
    changed = await recompute(session, catalog, dict(dirty), since=since, now=utcnow(), force=True)
    if changed:
        await quality.keep(session, catalog, changed)
    return len(changed)


class Worker:
    """Rolls up in the background: woken by this process's writes (after a short debounce, so a busy deadline's
    writes are taken together) and on an interval for the other processes'."""

    def __init__(self, write_sessions: async_sessionmaker[AsyncSession], catalogs: CatalogCache, *,
                 interval: float, debounce: float, paused: bool, observe: Any = None,
                 read_sessions: async_sessionmaker[AsyncSession] | None = None) -> None:
        self._sessions = write_sessions
        self._readers = read_sessions
        self._catalogs = catalogs
        self._interval = interval
        self._debounce = debounce
        self.paused = paused
        self._observe = observe
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.batches: dict[str, int] = defaultdict(int)

    def poke(self) -> None:
        """A write committed here: roll up soon."""
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="rollup-worker")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def _run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self._interval)
                await asyncio.sleep(self._debounce)
            except TimeoutError:
                pass
            self._wake.clear()
            if self.paused:
                continue
            try:
                while await self.once() >= BATCH_GROUPS:
                    pass  # a full batch: more may wait
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the marks stay; the next round (or a read) rolls them up
                log.warning("rollup_failed", exc_info=True)
                await asyncio.sleep(self._interval)

    async def once(self) -> int:
        """One batch of whatever is free; the groups it rolled up."""
        started = time.perf_counter()
        if self._readers is not None:
            # Idle most of the time: a read finds nothing waiting, and no write lock is taken (SQLite has one).
            async with self._readers() as s:
                if not await store.any_waiting(s):
                    return 0
        async with self._sessions() as session, session.begin():
            catalog = await self._catalogs.snapshot(session)
            done = await roll_up(session, catalog, wait=False)
        if done.groups and self._observe is not None:
            self._observe(time.perf_counter() - started)
        return done.groups
