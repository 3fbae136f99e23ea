"""Load the catalog from seeds/*.yaml. Idempotent; never overwrites or revives what an admin changed."""

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.db import revisions
from app.db.models import (
    Action,
    CatalogRevision,
    Deliverable,
    DeliverableDepartment,
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

SEED_KEY_NAME = "seed"


@dataclass
class SeedReport:
    """What one run of `attain seed` inserted, by kind."""

    inserted: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, n: int = 1) -> None:
        self.inserted[kind] = self.inserted.get(kind, 0) + n

    @property
    def total(self) -> int:
        return sum(self.inserted.values())


def _load(folder: Path, name: str) -> Any:
    with (folder / name).open(encoding="utf-8") as f:
        return yaml.safe_load(f)


def target_seed_key(indicator: str, t: dict[str, Any]) -> str:
    """The natural key of a seeded target, kept so a re-seed recognises it after admin edits."""
    return f"{indicator}|{t.get('unit') or '370200'}|{t['kind']}|{t.get('year')}"


async def _existing(session: AsyncSession, column: Any) -> set[Any]:
    return set((await session.execute(select(column))).scalars())


async def seed(session: AsyncSession, folder: Path) -> SeedReport:
    """Insert whatever of the seed files is missing; flushes, the caller commits."""
    report = SeedReport()
    await _seed_structure(session, folder, report)
    await _seed_units(session, folder, report)
    await _seed_indicators(session, folder, report)
    await _seed_deliverables(session, folder, report)
    await session.flush()
    return report


async def _seed_structure(session: AsyncSession, folder: Path, report: SeedReport) -> None:
    have = await _existing(session, Action.number)
    for a in _load(folder, "actions.yaml"):
        if a["number"] not in have:
            session.add(Action(number=a["number"], title_zh=a["title_zh"], title_en=a["title_en"]))
            report.add("actions")
    have = await _existing(session, Department.code)
    for d in _load(folder, "departments.yaml"):
        if d["code"] not in have:
            session.add(Department(code=d["code"], name_zh=d["name_zh"], name_en=d["name_en"],
                                   aliases=list(d.get("aliases") or [])))
            report.add("departments")
    await session.flush()
    have = await _existing(session, Task.number)
    for t in _load(folder, "tasks.yaml"):
        if t["number"] not in have:
            session.add(Task(number=t["number"], action_number=t["action"], text=t["text"]))
            for pos, code in enumerate(t["departments"]):
                session.add(TaskDepartment(task_number=t["number"], department_code=code, position=pos))
            report.add("tasks")
    await session.flush()
    have = await _existing(session, PlanRow.seq)
    for r in _load(folder, "plan_rows.yaml"):
        if r["seq"] in have:
            continue
        deadline = r.get("deadline")
        session.add(PlanRow(
            seq=r["seq"], number=str(r["number"]), problem=r["problem"], policies=r.get("policies") or "",
            measures=r.get("measures") or "", expected_effect=r.get("expected_effect") or "",
            deadline_text=r.get("deadline_text") or "",
            deadline=deadline if isinstance(deadline, date) else None,
            departments_text=r.get("departments_text") or "",
        ))
        await session.flush()
        for n in r["tasks"]:
            session.add(PlanRowTask(plan_row_seq=r["seq"], task_number=n))
        for pos, code in enumerate(r.get("departments") or []):
            session.add(PlanRowDepartment(plan_row_seq=r["seq"], department_code=code, position=pos))
        report.add("plan_rows")


async def _seed_units(session: AsyncSession, folder: Path, report: SeedReport) -> None:
    data = _load(folder, "units.yaml")
    have = await _existing(session, Unit.code)
    # Parents first: the city, then its districts.
    for u in sorted(data["units"], key=lambda u: u.get("parent") is not None):
        if u["code"] not in have:
            session.add(Unit(code=u["code"], name=u["name"], name_en=u.get("name_en"), parent_code=u.get("parent"),
                             level=u["level"], aliases=list(u.get("aliases") or [])))
            await session.flush()
            report.add("units")
    have = await _existing(session, RetiredUnit.code)
    for r in data.get("retired") or []:
        if r["code"] not in have:
            session.add(RetiredUnit(code=r["code"], name=r["name"], current_code=r["current"]))
            report.add("retired_units")


async def _seen_keys(session: AsyncSession) -> tuple[set[str], set[str]]:
    """Indicator codes and target seed keys that have ever existed (so deleted ones stay deleted)."""
    indicators: set[str] = set()
    targets: set[str] = set()
    rows = await session.execute(
        select(col(CatalogRevision.entity), col(CatalogRevision.entity_key), col(CatalogRevision.data),
               col(CatalogRevision.old))
        .where(col(CatalogRevision.entity).in_(("indicator", "target")))
    )
    for entity, key, data, old in rows:
        if entity == "indicator":
            indicators.add(key)
        else:
            for state in (data, old):
                if state and state.get("seed_key"):
                    targets.add(state["seed_key"])
    return indicators, targets


# Optional in indicators.yaml; the model's defaults (SPEC.md "Reporting") apply where a seed is silent.
REPORTING_FIELDS = ("reporters", "min_completeness", "due_days", "max_yoy_change", "max_yoy_points")


async def _seed_indicators(session: AsyncSession, folder: Path, report: SeedReport) -> None:
    seen_indicators, seen_targets = await _seen_keys(session)
    seen_indicators |= await _existing(session, Indicator.code)
    seen_targets |= {k for k in await _existing(session, Target.seed_key) if k}
    for i in _load(folder, "indicators.yaml"):
        if i["code"] not in seen_indicators:
            ind = Indicator(
                code=i["code"], task_number=i["task"], name_zh=i["name_zh"], name_en=i["name_en"], unit=i["unit"],
                measure=i["measure"], direction=i["direction"], level=i["level"], frequency=i["frequency"],
                min_value=i.get("min"), max_value=i.get("max"), source=i.get("source") or "",
                **{k: i[k] for k in REPORTING_FIELDS if k in i},
            )
            session.add(ind)
            revisions.record(session, entity="indicator", key=ind.code, action="create",
                             data=revisions.indicator_state(ind), old=None, key_name=SEED_KEY_NAME, request_id=None)
            report.add("indicators")
            await session.flush()
        for t in i.get("targets") or []:
            key = target_seed_key(i["code"], t)
            if key in seen_targets:
                continue
            baseline = t.get("baseline") or {}
            row = Target(
                indicator_code=i["code"], unit_code=t.get("unit") or "370200", kind=t["kind"], op=t["op"],
                value=float(t["value"]), year=t.get("year"), year_from=t.get("year_from"),
                baseline_value=baseline.get("value"), baseline_year=baseline.get("year"), note=t.get("note") or "",
                threshold_on_track=(t.get("thresholds") or {}).get("on_track"),
                threshold_at_risk=(t.get("thresholds") or {}).get("at_risk"), seed_key=key,
            )
            session.add(row)
            await session.flush()
            revisions.record(session, entity="target", key=str(row.id), action="create",
                             data=revisions.target_state(row), old=None, key_name=SEED_KEY_NAME, request_id=None)
            report.add("targets")


async def _seed_deliverables(session: AsyncSession, folder: Path, report: SeedReport) -> None:
    """Deliverables not yet in the store; an existing one (and its reports) is never touched."""
    if not (folder / "deliverables.yaml").exists():
        return
    have = await _existing(session, Deliverable.code)
    for d in _load(folder, "deliverables.yaml"):
        if d["code"] in have:
            continue
        deadline = d.get("deadline")
        session.add(Deliverable(
            code=d["code"], plan_row_seq=d["row"], n=d["n"], source=d.get("source") or "policies", title=d["title"],
            deadline=deadline if isinstance(deadline, date) else None, note=d.get("note") or "",
        ))
        await session.flush()
        for pos, code in enumerate(d["departments"]):
            session.add(DeliverableDepartment(deliverable_code=d["code"], department_code=code, position=pos))
        report.add("deliverables")
