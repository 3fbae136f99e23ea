"""Reading the catalog: one snapshot per request, assembled from a handful of whole-table reads."""

from collections import defaultdict
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.db.models import (
    Action,
    Department,
    Indicator,
    PlanRow,
    PlanRowDepartment,
    PlanRowTask,
    RetiredUnit,
    Target,
    Task,
    TaskDepartment,
    Unit,
)
from app.domain.catalog import (
    Catalog,
    DepartmentRow,
    IndicatorRow,
    RetiredUnitRow,
    TaskRow,
    UnitRow,
)


def version_sql() -> str:
    """The catalog's version as select-list expressions (a write reads it in the statement that takes its locks)."""
    return ("(SELECT max(id) FROM catalog_revisions), (SELECT count(*) FROM units), "
            "(SELECT count(*) FROM retired_units), (SELECT count(*) FROM tasks), (SELECT count(*) FROM departments), "
            "(SELECT count(*) FROM task_departments), (SELECT count(*) FROM indicators), "
            "(SELECT count(*) FROM actions)")


async def _version(session: AsyncSession) -> tuple[Any, ...]:
    return tuple((await session.execute(text(f"SELECT {version_sql()}"))).one())


class CatalogCache:
    """The last catalog snapshot read, with its version; one per application, created in its lifespan.

    Every call checks the version in the database, so a change made through any worker or replica is seen by the
    next request everywhere; only an unchanged snapshot is reused.
    """

    def __init__(self) -> None:
        self._kept: tuple[tuple[Any, ...], Catalog] | None = None

    def peek(self) -> tuple[tuple[Any, ...], Catalog] | None:
        """The kept snapshot and its version, unchecked: for a write that reads the version with its locks."""
        return self._kept

    async def at(self, session: AsyncSession, version: tuple[Any, ...]) -> Catalog:
        """The snapshot of a version just read (the kept one if it is that version)."""
        kept = self._kept
        if kept is not None and kept[0] == version:
            return kept[1]
        snapshot = await read_catalog(session)
        self._kept = (version, snapshot)
        return snapshot

    async def snapshot(self, session: AsyncSession, *, fresh: bool = False) -> Catalog:
        """The catalog as this session's transaction sees it.

        `fresh` reads it anew and leaves the shared snapshot alone — for a transaction that has just changed the
        catalog and may still roll back.
        """
        if fresh:
            return await read_catalog(session)
        return await self.at(session, await _version(session))


async def read_catalog(session: AsyncSession) -> Catalog:
    """The whole catalog in one snapshot (a few small reads)."""
    U = Unit.__table__  # type: ignore[attr-defined]
    units = {
        r[0]: UnitRow(r[0], r[1], r[2], r[3], r[4], list(r[5] or []))
        for r in await session.execute(select(U.c.code, U.c.name, U.c.name_en, U.c.parent_code, U.c.level, U.c.aliases))
    }
    R = RetiredUnit.__table__  # type: ignore[attr-defined]
    retired = {r[0]: RetiredUnitRow(r[0], r[1], r[2])
               for r in await session.execute(select(R.c.code, R.c.name, R.c.current_code))}
    names: dict[str, str] = {}
    children: dict[str, list[str]] = defaultdict(list)
    for u in units.values():
        names[u.name] = u.code
        for alias in u.aliases or []:
            names[alias] = u.code
        if u.parent_code:
            children[u.parent_code].append(u.code)
    for r in retired.values():
        names.setdefault(r.name, r.code)
    for kids in children.values():
        kids.sort()
    departments = {d.code: DepartmentRow(d.code, d.name_zh, d.name_en, list(d.aliases or []))
                   for d in (await session.execute(select(Department))).scalars()}
    dnames: dict[str, str] = {}
    for d in departments.values():
        dnames[d.name_zh] = d.code
        for alias in d.aliases or []:
            dnames[alias] = d.code
    tasks = {t.number: TaskRow(t.number, t.action_number, t.text)
             for t in (await session.execute(select(Task))).scalars()}
    tdeps: dict[int, list[str]] = defaultdict(list)
    dtasks: dict[str, list[int]] = defaultdict(list)
    rows = (await session.execute(select(TaskDepartment).order_by(col(TaskDepartment.position)))).scalars()
    for td in rows:
        tdeps[td.task_number].append(td.department_code)
        dtasks[td.department_code].append(td.task_number)
    indicators = {i.code: indicator_row(i)
                  for i in (await session.execute(select(Indicator).order_by(col(Indicator.code)))).scalars()}
    return Catalog(
        units=units,
        retired=retired,
        unit_names=names,
        children=dict(children),
        departments=departments,
        department_names=dnames,
        tasks=tasks,
        task_departments=dict(tdeps),
        indicators=indicators,
        department_tasks={k: sorted(v) for k, v in dtasks.items()},
    )


async def actions(session: AsyncSession) -> list[Action]:
    return list((await session.execute(select(Action).order_by(col(Action.number)))).scalars())


async def plan_rows(session: AsyncSession) -> tuple[list[PlanRow], dict[int, list[int]], dict[int, list[str]]]:
    """Annex 2 rows in order, with their tasks and departments by row seq."""
    rows = list((await session.execute(select(PlanRow).order_by(col(PlanRow.seq)))).scalars())
    tasks: dict[int, list[int]] = defaultdict(list)
    for link in (await session.execute(select(PlanRowTask).order_by(col(PlanRowTask.task_number)))).scalars():
        tasks[link.plan_row_seq].append(link.task_number)
    deps: dict[int, list[str]] = defaultdict(list)
    for d in (await session.execute(select(PlanRowDepartment).order_by(col(PlanRowDepartment.position)))).scalars():
        deps[d.plan_row_seq].append(d.department_code)
    return rows, dict(tasks), dict(deps)


async def targets(session: AsyncSession, *, indicator: str | None = None) -> list[Target]:
    """Current targets, optionally of one indicator."""
    stmt = select(Target).order_by(col(Target.id))
    if indicator is not None:
        stmt = stmt.where(col(Target.indicator_code) == indicator)
    return list((await session.execute(stmt)).scalars())


def indicator_row(i: Indicator) -> IndicatorRow:
    """The plain-data copy of an indicator row."""
    return IndicatorRow(
        code=i.code, task_number=i.task_number, name_zh=i.name_zh, name_en=i.name_en, unit=i.unit, measure=i.measure,
        direction=i.direction, level=i.level, frequency=i.frequency, min_value=i.min_value, max_value=i.max_value,
        source=i.source, reporters=list(i.reporters) if i.reporters is not None else None,
        min_completeness=i.min_completeness, due_days=i.due_days, max_yoy_change=i.max_yoy_change,
        max_yoy_points=i.max_yoy_points,
    )


# Serialises unit creation on PostgreSQL (SQLite's write transactions are serial already).
_UNITS_LOCK = 0x756E697473  # "units"


async def unit_names_locked(session: AsyncSession) -> list[tuple[str, tuple[str, ...]]]:
    """Every unit's and retired unit's code and names, read after taking the unit-creation lock."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _UNITS_LOCK})
    U, R = Unit.__table__, RetiredUnit.__table__  # type: ignore[attr-defined]
    out = [(c, (n, *(a or []))) for c, n, a in await session.execute(select(U.c.code, U.c.name, U.c.aliases))]
    return out + [(c, (n,)) for c, n in await session.execute(select(R.c.code, R.c.name))]
