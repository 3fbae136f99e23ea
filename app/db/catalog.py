"""Reading the catalog: one snapshot per request, assembled from a handful of whole-table reads."""

import weakref
from collections import defaultdict
from dataclasses import dataclass, field
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
from app.errors import NotFound, Unprocessable
from app.i18n import Message, _

CITY = "370200"


@dataclass(frozen=True, slots=True)
class UnitRow:
    """A unit as the catalog snapshot holds it (plain data: thousands of schools load in milliseconds)."""

    code: str
    name: str
    name_en: str | None
    parent_code: str | None
    level: str
    aliases: list[str]


@dataclass
class Catalog:
    """Units, departments, tasks and indicators, indexed the ways requests look them up."""

    units: dict[str, UnitRow]
    retired: dict[str, RetiredUnit]
    unit_names: dict[str, str]
    children: dict[str, list[str]]
    departments: dict[str, Department]
    department_names: dict[str, str]
    tasks: dict[int, Task]
    task_departments: dict[int, list[str]]
    indicators: dict[str, Indicator]
    department_tasks: dict[str, list[int]] = field(default_factory=dict)

    def resolve_unit(self, text: str) -> UnitRow | RetiredUnit | None:
        """A unit by code, name or alias; a retired code gives its RetiredUnit."""
        key = text.strip()
        if key in self.units:
            return self.units[key]
        if key in self.retired:
            return self.retired[key]
        code = self.unit_names.get(key)
        if code is not None:
            return self.units.get(code) or self.retired.get(code)
        return None

    def resolve_department(self, text: str) -> str:
        """A department code from its code, name or alias, or 422."""
        key = text.strip()
        code = key if key in self.departments else self.department_names.get(key)
        if code is None:
            raise Unprocessable(
                _("Unknown department '{text}'. Use a code, a name or an alias listed at /api/v1/departments.",
                  text=text),
                errors=[{"location": "query.department", "message": "unknown department"}],
            )
        return code

    def subtree(self, root: str) -> set[str]:
        """root and every unit under it."""
        found, stack = {root}, [root]
        while stack:
            for child in self.children.get(stack.pop(), []):
                if child not in found:
                    found.add(child)
                    stack.append(child)
        return found

    def ancestors(self, code: str) -> list[str]:
        """Parent, grandparent, … up to the root."""
        out: list[str] = []
        parent = self.units[code].parent_code if code in self.units else None
        while parent is not None and parent not in out:
            out.append(parent)
            parent = self.units[parent].parent_code
        return out

    def retired_message(self, retired: RetiredUnit) -> Message:
        current = self.units.get(retired.current_code)
        name = current.name if current else "?"
        return _("Unit code {code} ({name}) was retired; use the current code {current} ({current_name}).",
                 code=retired.code, name=retired.name, current=retired.current_code, current_name=name)


# Snapshots by engine and catalog version. Every call checks the version in the database, so a change made
# through any worker or replica is seen by the next request everywhere; only unchanged snapshots are reused.
_SNAPSHOTS: "weakref.WeakKeyDictionary[Any, tuple[tuple[Any, ...], Catalog]]" = weakref.WeakKeyDictionary()


async def _version(session: AsyncSession) -> tuple[Any, ...]:
    row = (await session.execute(text(
        "SELECT (SELECT max(id) FROM catalog_revisions), (SELECT count(*) FROM units), "
        "(SELECT count(*) FROM retired_units), (SELECT count(*) FROM tasks), (SELECT count(*) FROM departments), "
        "(SELECT count(*) FROM task_departments), (SELECT count(*) FROM indicators), (SELECT count(*) FROM actions)"
    ))).one()
    return tuple(row)


async def load_catalog(session: AsyncSession, *, fresh: bool = False) -> Catalog:
    """The catalog snapshot: reused while the catalog's version in the database is unchanged.

    `fresh` reads it anew and leaves the shared snapshot alone — for a transaction that has just changed the
    catalog and may still roll back.
    """
    if fresh:
        return await _read_catalog(session)
    engine = session.bind
    version = await _version(session)
    cached = _SNAPSHOTS.get(engine) if engine is not None else None
    if cached is not None and cached[0] == version:
        return cached[1]
    snapshot = await _read_catalog(session)
    # Detach the snapshot's rows: a later rollback of this session must not expire objects other requests read.
    for obj in (*snapshot.retired.values(), *snapshot.departments.values(), *snapshot.tasks.values(),
                *snapshot.indicators.values()):
        if obj in session:
            session.expunge(obj)
    if engine is not None:
        _SNAPSHOTS[engine] = (version, snapshot)
    return snapshot


async def _read_catalog(session: AsyncSession) -> Catalog:
    """The whole catalog in one snapshot (a few small reads)."""
    U = Unit.__table__  # type: ignore[attr-defined]
    units = {
        r[0]: UnitRow(r[0], r[1], r[2], r[3], r[4], list(r[5] or []))
        for r in await session.execute(select(U.c.code, U.c.name, U.c.name_en, U.c.parent_code, U.c.level, U.c.aliases))
    }
    retired = {r.code: r for r in (await session.execute(select(RetiredUnit))).scalars()}
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
    departments = {d.code: d for d in (await session.execute(select(Department))).scalars()}
    dnames: dict[str, str] = {}
    for d in departments.values():
        dnames[d.name_zh] = d.code
        for alias in d.aliases or []:
            dnames[alias] = d.code
    tasks = {t.number: t for t in (await session.execute(select(Task))).scalars()}
    tdeps: dict[int, list[str]] = defaultdict(list)
    dtasks: dict[str, list[int]] = defaultdict(list)
    rows = (await session.execute(select(TaskDepartment).order_by(col(TaskDepartment.position)))).scalars()
    for td in rows:
        tdeps[td.task_number].append(td.department_code)
        dtasks[td.department_code].append(td.task_number)
    indicators = {i.code: i for i in (await session.execute(select(Indicator).order_by(col(Indicator.code)))).scalars()}
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


def indicator_or_404(catalog: Catalog, code: str) -> Indicator:
    found = catalog.indicators.get(code)
    if found is None:
        raise NotFound(_("No indicator '{code}'. The list is at /api/v1/indicators.", code=code))
    return found
