"""Admin edits of the catalog: indicators, targets and units. Every change leaves a revision."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.db import measurements, revisions, yearly_rebuild
from app.db.catalog import CatalogCache, unit_names_locked
from app.db.models import Indicator, Target, Unit
from app.db.seed import REPORTING_FIELDS
from app.db.types import utcnow
from app.domain.audit import Author
from app.domain.catalog import Catalog
from app.domain.text import echo
from app.domain.units import Existing, new_unit_problems
from app.errors import Conflict, NotFound, Unprocessable
from app.i18n import _
from app.schemas.catalog import (
    IndicatorCreate,
    IndicatorUpdate,
    ReportersUpdate,
    TargetCreate,
    TargetUpdate,
    UnitCreate,
)
from app.services import rollup
from app.services.catalog import indicator_or_404

# Who makes a change, as its revision records it.
Editor = Author


async def create_indicator(session: AsyncSession, cat: Catalog, body: IndicatorCreate, *, by: Editor) -> Indicator:
    """Add an indicator (e.g. for the next five-year plan)."""
    if body.code in cat.indicators:
        raise Conflict(_("Indicator {code} exists; PATCH it instead.", code=body.code))
    if body.task not in cat.tasks:
        raise Unprocessable(_("No task {task}.", task=body.task),
                            errors=[{"location": "body.task", "message": "unknown task"}])
    ind = Indicator(
        code=body.code, task_number=body.task, name_zh=body.name_zh, name_en=body.name_en, unit=body.unit,
        measure=body.measure, direction=body.direction, level=body.level, frequency=body.frequency,
        min_value=body.min, max_value=body.max, source=body.source,
        **{k: v for k in REPORTING_FIELDS if k != "reporters" and (v := getattr(body, k)) is not None},
    )
    session.add(ind)
    revisions.record(session, entity="indicator", key=ind.code, action="create",
                     data=revisions.indicator_state(ind), old=None, **by.columns())
    await session.flush()
    return ind


async def update_indicator(
    session: AsyncSession, catalogs: CatalogCache, code: str, body: IndicatorUpdate, *, by: Editor
) -> Indicator:
    """Change an indicator's names, unit, measure, bounds or frequency."""
    # The row itself, not the (shared, cached) catalog snapshot's copy.
    ind = await session.get(Indicator, code)
    if ind is None:
        raise NotFound(_("No indicator '{code}'. The list is at /api/v1/indicators.", code=echo(code)))
    old = revisions.indicator_state(ind)
    changes = body.model_dump(exclude_unset=True)
    renames = {"min": "min_value", "max": "max_value"}
    for name, value in changes.items():
        if value is None and name not in ("min", "max"):
            continue
        setattr(ind, renames.get(name, name), value)
    if ind.min_value is not None and ind.max_value is not None and ind.min_value > ind.max_value:
        raise Unprocessable(_("min must not exceed max."), errors=[{"location": "body.min", "message": "min > max"}])
    new = revisions.indicator_state(ind)
    if new != old:
        revisions.record(session, entity="indicator", key=code, action="update", data=new, old=old,
                         **by.columns())
    await session.flush()
    if new["measure"] != old["measure"]:
        # A rate, a stock and a flow make different yearly values of the same stored periods.
        await yearly_rebuild.hold_tables(session)
        try:
            await measurements.set_flow(session, code, flow=new["measure"] == "flow")
        except measurements.PeriodsOverlap:
            raise Conflict(f"Stored periods of {code} overlap, which a flow's may not; delete the overlapping "
                           "periods first.") from None
        fresh = await catalogs.snapshot(session, fresh=True)
        await rollup.rebuild(session, fresh, since=utcnow(), indicator=code)
    return ind


async def set_reporters(
    session: AsyncSession, cat: Catalog, code: str, body: ReportersUpdate, *, by: Editor
) -> Indicator:
    """Set who must report an indicator (units by code, name or alias); None restores its level's default."""
    ind = await session.get(Indicator, code)
    if ind is None:
        raise NotFound(_("No indicator '{code}'. The list is at /api/v1/indicators.", code=code))
    codes: list[str] | None = None
    if body.units is not None:
        errors = []
        found = set()
        for n, name in enumerate(body.units):
            unit = cat.resolve_unit(name)
            if unit is None or unit.code not in cat.units:
                errors.append({"location": f"body.units.{n}", "message": f"unknown or retired unit '{name[:40]}'"})
            else:
                found.add(unit.code)
        if errors:
            raise Unprocessable(_("Some reporters are not known units."), errors=errors)
        codes = sorted(found)
    old = revisions.indicator_state(ind)
    ind.reporters = codes
    new = revisions.indicator_state(ind)
    if new != old:
        revisions.record(session, entity="indicator", key=code, action="update", data=new, old=old,
                         **by.columns())
    await session.flush()
    return ind


async def _ensure_unique(session: AsyncSession, t: Target) -> None:
    stmt = select(col(Target.id)).where(
        col(Target.indicator_code) == t.indicator_code, col(Target.unit_code) == t.unit_code,
        col(Target.kind) == t.kind, col(Target.year).is_(None) if t.year is None else col(Target.year) == t.year,
    )
    if t.id is not None:
        stmt = stmt.where(col(Target.id) != t.id)
    if (await session.execute(stmt)).first() is not None:
        raise Conflict(_("A {kind} target for {indicator} at unit {unit} for year {year} exists already.",
                         kind=t.kind, indicator=t.indicator_code, unit=t.unit_code, year=t.year))


async def create_target(session: AsyncSession, cat: Catalog, code: str, body: TargetCreate, *, by: Editor) -> Target:
    """Add a target to an indicator."""
    indicator_or_404(cat, code)
    unit = cat.resolve_unit(body.unit)
    if unit is None or unit.code not in cat.units:
        detail = (cat.retired_message(cat.retired[unit.code]) if unit
                  else _("Unknown unit '{text}'.", text=echo(body.unit)))
        raise Unprocessable(detail, errors=[{"location": "body.unit", "message": str(detail)}])
    t = Target(
        indicator_code=code, unit_code=unit.code, kind=body.kind, op=body.op, value=body.value, year=body.year,
        year_from=body.year_from, baseline_value=body.baseline.value if body.baseline else None,
        baseline_year=body.baseline.year if body.baseline else None, note=body.note,
        threshold_on_track=body.thresholds.on_track if body.thresholds else None,
        threshold_at_risk=body.thresholds.at_risk if body.thresholds else None,
    )
    await _ensure_unique(session, t)
    session.add(t)
    await session.flush()
    revisions.record(session, entity="target", key=str(t.id), action="create", data=revisions.target_state(t),
                     old=None, **by.columns())
    return t


async def _target_or_404(session: AsyncSession, target_id: int) -> Target:
    t = await session.get(Target, target_id)
    if t is None:
        raise NotFound(_("No target {id}.", id=target_id))
    return t


async def update_target(session: AsyncSession, target_id: int, body: TargetUpdate, *, by: Editor) -> Target:
    """Change a target's threshold, year, window, baseline or note."""
    t = await _target_or_404(session, target_id)
    old = revisions.target_state(t)
    changes = body.model_dump(exclude_unset=True)
    for name in ("op", "value", "note"):
        if changes.get(name) is not None:
            setattr(t, name, changes[name])
    for name in ("year", "year_from"):
        if name in changes:
            setattr(t, name, changes[name])
    if "baseline" in changes:
        t.baseline_value = body.baseline.value if body.baseline else None
        t.baseline_year = body.baseline.year if body.baseline else None
    if "thresholds" in changes:
        t.threshold_on_track = body.thresholds.on_track if body.thresholds else None
        t.threshold_at_risk = body.thresholds.at_risk if body.thresholds else None
    if t.year is not None and t.year_from is not None and t.year_from > t.year:
        raise Unprocessable(_("year_from must not be after year."), errors=[{"location": "body.year_from",
                                                                          "message": "after year"}])
    if t.kind == "each_unit" and t.year is None:
        raise Unprocessable(_("An each_unit target needs a year."), errors=[{"location": "body.year",
                                                                          "message": "required"}])
    await _ensure_unique(session, t)
    new = revisions.target_state(t)
    if new != old:
        revisions.record(session, entity="target", key=str(target_id), action="update", data=new, old=old,
                         **by.columns())
    await session.flush()
    return t


async def delete_target(session: AsyncSession, target_id: int, *, by: Editor) -> None:
    """Remove a target; its revisions remain, so past reports still show it."""
    t = await _target_or_404(session, target_id)
    revisions.record(session, entity="target", key=str(target_id), action="delete", data=None,
                     old=revisions.target_state(t), **by.columns())
    await session.delete(t)
    await session.flush()


async def create_unit(session: AsyncSession, cat: Catalog, body: UnitCreate, *, by: Editor) -> Unit:
    """Add a unit (a school, usually) under an existing unit."""
    if body.code in cat.units or body.code in cat.retired:
        raise Conflict(_("Unit code {code} is taken.", code=body.code))
    parent = cat.resolve_unit(body.parent)
    if parent is None or parent.code not in cat.units:
        raise Unprocessable(_("Unknown parent unit '{text}'.", text=echo(body.parent)),
                            errors=[{"location": "body.parent", "message": "unknown unit"}])
    # Read after taking the unit lock, not from the request's snapshot: two admins adding one name at once
    # cannot both succeed.
    existing = [Existing(code, names) for code, names in await unit_names_locked(session)]
    problems = new_unit_problems(code=body.code, name=body.name, aliases=body.aliases, level=body.level,
                                 parent_level=cat.units[parent.code].level, existing=existing)
    if problems:
        error = Conflict if all(p["code"] == "name_taken" for p in problems) else Unprocessable
        shown = [{**p, "message": str(p["message"])} for p in problems]
        raise error(_("The unit cannot be added: {problems}.", problems="; ".join(p["message"] for p in shown)),
                    errors=shown)
    u = Unit(code=body.code, name=body.name, name_en=body.name_en, parent_code=parent.code, level=body.level,
             aliases=body.aliases)
    session.add(u)
    revisions.record(session, entity="unit", key=u.code, action="create", data=revisions.unit_state(u), old=None,
                     **by.columns())
    await session.flush()
    return u
