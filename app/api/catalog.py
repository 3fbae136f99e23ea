"""Read-only catalog: actions, tasks, departments, units, plan rows, indicators with targets."""

from typing import Any, Literal

from fastapi import APIRouter, Query, Request

from app.api.csvout import csv_response, indicators_csv, wants_csv
from app.api.deps import Catalogs, Reader, SessionDep
from app.db import catalog as q
from app.db.models import Indicator, Target
from app.domain.catalog import Catalog, IndicatorRow
from app.domain.completeness import reporter_codes
from app.domain.judgement import AT_RISK_PACE, ON_TRACK_PACE
from app.domain.text import echo
from app.errors import NotFound
from app.i18n import _
from app.schemas.catalog import (
    ActionRead,
    Baseline,
    DepartmentRead,
    IndicatorDetail,
    IndicatorRead,
    PlanRowRead,
    RetiredUnitRead,
    TargetRead,
    TaskDetail,
    TaskRead,
    Thresholds,
    UnitRead,
)
from app.services.catalog import department_or_422, indicator_or_404

router = APIRouter(tags=["catalog"])


def task_read(cat: Catalog, number: int, row_seqs: list[int]) -> TaskRead:
    task = cat.tasks[number]
    deps = cat.task_departments.get(number, [])
    return TaskRead(
        number=number,
        action=task.action_number,
        text=task.text,
        departments=deps,
        lead_department=deps[0] if deps else "",
        plan_rows=row_seqs,
    )


def indicator_read(cat: Catalog, ind: IndicatorRow | Indicator) -> IndicatorRead:
    task = cat.tasks[ind.task_number]
    return IndicatorRead(
        code=ind.code,
        task=ind.task_number,
        action=task.action_number,
        name_zh=ind.name_zh,
        name_en=ind.name_en,
        unit=ind.unit,
        measure=ind.measure,  # type: ignore[arg-type]
        direction=ind.direction,  # type: ignore[arg-type]
        level=ind.level,  # type: ignore[arg-type]
        frequency=ind.frequency,  # type: ignore[arg-type]
        min=ind.min_value,
        max=ind.max_value,
        reporters=reporter_codes(cat, ind.reporters, ind.level),
        reporters_set=ind.reporters is not None,
        min_completeness=ind.min_completeness,
        due_days=ind.due_days,
        max_yoy_change=ind.max_yoy_change,
        max_yoy_points=ind.max_yoy_points,
        source=ind.source,
        departments=cat.task_departments.get(ind.task_number, []),
    )


def target_read(t: Target) -> TargetRead:
    assert t.id is not None
    baseline = None
    if t.baseline_value is not None and t.baseline_year is not None:
        baseline = Baseline(value=t.baseline_value, year=t.baseline_year)
    return TargetRead(
        id=t.id,
        indicator=t.indicator_code,
        unit=t.unit_code,
        kind=t.kind,  # type: ignore[arg-type]
        op=t.op,  # type: ignore[arg-type]
        value=t.value,
        year=t.year,
        year_from=t.year_from,
        baseline=baseline,
        thresholds=Thresholds(
            on_track=ON_TRACK_PACE if t.threshold_on_track is None else t.threshold_on_track,
            at_risk=AT_RISK_PACE if t.threshold_at_risk is None else t.threshold_at_risk,
        ),
        note=t.note,
    )


def _row_tasks_index(row_tasks: dict[int, list[int]]) -> dict[int, list[int]]:
    by_task: dict[int, list[int]] = {}
    for seq, numbers in sorted(row_tasks.items()):
        for n in numbers:
            by_task.setdefault(n, []).append(seq)
    return by_task


@router.get("/actions")
async def list_actions(session: SessionDep, catalogs: Catalogs, _caller: Reader) -> list[ActionRead]:
    """The ten actions with their task numbers."""
    cat = await catalogs.snapshot(session)
    return [
        ActionRead(
            number=a.number,
            title_zh=a.title_zh,
            title_en=a.title_en,
            tasks=sorted(n for n, t in cat.tasks.items() if t.action_number == a.number),
        )
        for a in await q.actions(session)
    ]


@router.get("/departments")
async def list_departments(session: SessionDep, catalogs: Catalogs, _caller: Reader) -> list[DepartmentRead]:
    """Departments (处室) with aliases and the tasks each is responsible for."""
    cat = await catalogs.snapshot(session)
    return [
        DepartmentRead(
            code=d.code, name_zh=d.name_zh, name_en=d.name_en, aliases=d.aliases or [],
            tasks=cat.department_tasks.get(d.code, []),
        )
        for d in sorted(cat.departments.values(), key=lambda d: d.code)
    ]


@router.get("/tasks")
async def list_tasks(
    session: SessionDep,
    catalogs: Catalogs,
    _caller: Reader,
    action: int | None = Query(default=None, ge=1, le=999),
    department: str | None = Query(default=None, max_length=100, description="Code, name or alias"),
) -> list[TaskRead]:
    """Tasks, filtered by action and by any responsible department (aliases work)."""
    cat = await catalogs.snapshot(session)
    dept = department_or_422(cat, department) if department else None
    row_tasks = (await q.plan_rows(session))[1]
    by_task = _row_tasks_index(row_tasks)
    return [
        task_read(cat, n, by_task.get(n, []))
        for n in sorted(cat.tasks)
        if (action is None or cat.tasks[n].action_number == action)
        and (dept is None or dept in cat.task_departments.get(n, []))
    ]


@router.get("/tasks/{number}", responses={404: {"description": "No such task"}})
async def get_task(number: int, session: SessionDep, catalogs: Catalogs, _caller: Reader) -> TaskDetail:
    """One task with its Annex 2 rows and indicators."""
    cat = await catalogs.snapshot(session)
    if number not in cat.tasks:
        raise NotFound(_("No task {task}; tasks are numbered 1–{last}.", task=number, last=max(cat.tasks, default=0)))
    rows, row_tasks, row_deps = await q.plan_rows(session)
    mine = [r for r in rows if number in row_tasks.get(r.seq, [])]
    base = task_read(cat, number, [r.seq for r in mine])
    return TaskDetail(
        **base.model_dump(),
        plan_row_details=[_plan_row(r, row_tasks, row_deps) for r in mine],
        indicators=[c for c, i in cat.indicators.items() if i.task_number == number],
    )


def _plan_row(r, row_tasks: dict[int, list[int]], row_deps: dict[int, list[str]]) -> PlanRowRead:  # type: ignore[no-untyped-def]
    return PlanRowRead(
        seq=r.seq, number=r.number, tasks=row_tasks.get(r.seq, []), problem=r.problem, policies=r.policies,
        measures=r.measures, expected_effect=r.expected_effect, deadline_text=r.deadline_text,
        deadline=r.deadline, departments=row_deps.get(r.seq, []), departments_text=r.departments_text,
    )


@router.get("/plan-rows")
async def list_plan_rows(session: SessionDep, _caller: Reader) -> list[PlanRowRead]:
    """Every row of Annex 2 (the task list), in document order."""
    rows, row_tasks, row_deps = await q.plan_rows(session)
    return [_plan_row(r, row_tasks, row_deps) for r in rows]


@router.get("/units")
async def list_units(
    session: SessionDep, catalogs: Catalogs, _caller: Reader, parent: str | None = Query(default=None, max_length=32)
) -> list[UnitRead]:
    """The unit tree: the city, its districts and any schools added under them."""
    cat = await catalogs.snapshot(session)
    units = sorted(cat.units.values(), key=lambda u: (u.level != "city", u.code))
    return [
        UnitRead(code=u.code, name=u.name, name_en=u.name_en, parent=u.parent_code, level=u.level,
                 aliases=u.aliases or [])
        for u in units
        if parent is None or u.parent_code == parent
    ]


@router.get("/units/retired")
async def list_retired_units(session: SessionDep, catalogs: Catalogs, _caller: Reader) -> list[RetiredUnitRead]:
    """Codes no longer in use, each with its successor."""
    cat = await catalogs.snapshot(session)
    return [RetiredUnitRead(code=r.code, name=r.name, current=r.current_code) for r in cat.retired.values()]


@router.get("/units/{code}", responses={404: {"description": "Unknown or retired unit"}})
async def get_unit(code: str, session: SessionDep, catalogs: Catalogs, _caller: Reader) -> UnitRead:
    """One unit by code, name or alias; a retired code is answered with its successor."""
    cat = await catalogs.snapshot(session)
    found = cat.resolve_unit(code)
    if found is None:
        raise NotFound(_("No unit '{text}'. The list is at /api/v1/units.", text=echo(code)))
    if found.code in cat.retired:
        r = cat.retired[found.code]
        raise NotFound(cat.retired_message(r), current=r.current_code)
    u = cat.units[found.code]
    return UnitRead(code=u.code, name=u.name, name_en=u.name_en, parent=u.parent_code, level=u.level,
                    aliases=u.aliases or [])


@router.get("/indicators", response_model=list[IndicatorRead], responses={200: {"content": {"text/csv": {}}}})
async def list_indicators(
    request: Request,
    session: SessionDep,
    catalogs: Catalogs,
    _caller: Reader,
    task: int | None = Query(default=None, ge=1, le=999),
    department: str | None = Query(default=None, max_length=100, description="Code, name or alias"),
    fmt: Literal["json", "csv"] | None = Query(default=None, alias="format", description="Or send Accept: text/csv"),
    lang: Literal["en", "zh"] = Query(default="en", description="CSV language"),
) -> Any:
    """Indicators, filtered by task and by responsible department (aliases work)."""
    cat = await catalogs.snapshot(session)
    dept = department_or_422(cat, department) if department else None
    items = [
        indicator_read(cat, i)
        for i in cat.indicators.values()
        if (task is None or i.task_number == task)
        and (dept is None or dept in cat.task_departments.get(i.task_number, []))
    ]
    if wants_csv(request, fmt):
        return csv_response(indicators_csv(cat, items, chinese=lang == "zh"), "indicators")
    return items


@router.get("/indicators/{code}", responses={404: {"description": "No such indicator"}})
async def get_indicator(code: str, session: SessionDep, catalogs: Catalogs, _caller: Reader) -> IndicatorDetail:
    """One indicator with its targets."""
    cat = await catalogs.snapshot(session)
    ind = indicator_or_404(cat, code)
    return IndicatorDetail(
        **indicator_read(cat, ind).model_dump(),
        targets=[target_read(t) for t in await q.targets(session, indicator=code)],
    )
