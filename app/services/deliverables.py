"""Plan deliverables: list them judged on a day, summarise them, report on one (SPEC "Plan deliverables").

The functions here are what routes and pages call: list_deliverables, plan_summary, report_deliverable,
deliverable_history.
"""

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.db import deliverables as store
from app.db import extensions as extension_store
from app.db.models import DeliverableRevision
from app.db.models_supervision import DeliverableEdit, ExtensionEvent, ExtensionRequest
from app.domain.catalog import Catalog
from app.domain.deliverable_reports import ReportInput, ReportProblem, check_report
from app.domain.deliverables import (
    Deliverable,
    DeliverableStatus,
    count_by_status,
    on_time_rate,
)
from app.domain.keys import Principal, Role
from app.domain.lights import Light, deliverable_light
from app.domain.periods import today_in_shanghai
from app.domain.progress import progress_overdue, recent_progress
from app.errors import Forbidden, NotFound, Unprocessable
from app.i18n import _
from app.services.instructions import overdue_subjects


@dataclass(frozen=True, slots=True)
class Filters:
    """What GET /deliverables narrows by; department is a resolved code."""

    row: int | None = None
    task: int | None = None
    action: int | None = None
    department: str | None = None
    status: DeliverableStatus | None = None


@dataclass(frozen=True, slots=True)
class Judged:
    """A deliverable and its status on the judged day."""

    deliverable: Deliverable
    status: DeliverableStatus
    actions: tuple[int, ...]
    light: Light = Light.GREY
    progress_overdue: bool = False
    on: date | None = None  # the day judged


@dataclass(frozen=True, slots=True)
class Listing:
    on: date
    as_of: datetime | None
    items: list[Judged]


@dataclass(frozen=True, slots=True)
class Group:
    """Deliverables of one action or department, counted by status."""

    key: str
    name_zh: str
    name_en: str
    total: int
    counts: dict[str, int]
    on_time_rate: float | None


@dataclass(frozen=True, slots=True)
class Summary:
    on: date
    as_of: datetime | None
    total: Group
    by_action: list[Group]
    by_department: list[Group]


def _actions(catalog: Catalog, d: Deliverable) -> tuple[int, ...]:
    return tuple(sorted({catalog.tasks[t].action_number for t in d.tasks if t in catalog.tasks}))


def judge(d: Deliverable, on: date, actions: tuple[int, ...] = (),
          overdue_instructions: frozenset[tuple[str, str]] = frozenset()) -> Judged:
    """One deliverable's status and light on `on`; `overdue_instructions` holds the (kind, code) of every target
    with an overdue 批示 then (the deliverable's own or its task's turns it red)."""
    status = d.status(on)
    late = progress_overdue(d, on, status)
    pressed = bool(overdue_instructions) and (
        ("deliverable", d.code) in overdue_instructions
        or any(("task", str(t)) in overdue_instructions for t in d.tasks))
    light = deliverable_light(status=status, extension_pending=d.extension_pending, progress_overdue=late,
                              recent_progress=recent_progress(d, on), instruction_overdue=pressed)
    return Judged(d, status, actions, light, late, on)


async def judge_all(session: AsyncSession, catalog: Catalog, *, on: date, as_of: datetime | None) -> Listing:
    """Every deliverable with its status and light on `on`, as known at `as_of` (now when None)."""
    pressed = frozenset(await overdue_subjects(session, on=on, as_of=as_of))
    items = [judge(d, on, _actions(catalog, d), pressed) for d in await store.load(session, as_of=as_of)]
    return Listing(on=on, as_of=as_of, items=items)


def _keep(j: Judged, f: Filters) -> bool:
    d = j.deliverable
    return ((f.row is None or d.row == f.row) and (f.task is None or f.task in d.tasks)
            and (f.action is None or f.action in j.actions)
            and (f.department is None or f.department in d.departments)
            and (f.status is None or j.status == f.status))


async def list_deliverables(session: AsyncSession, catalog: Catalog, filters: Filters, *, on: date,
                            as_of: datetime | None) -> Listing:
    """The deliverables that match `filters`, judged on `on` as known at `as_of`."""
    listing = await judge_all(session, catalog, on=on, as_of=as_of)
    return Listing(on=on, as_of=as_of, items=[j for j in listing.items if _keep(j, filters)])


async def get_deliverable(session: AsyncSession, catalog: Catalog, code: str, *, on: date,
                          as_of: datetime | None) -> Judged:
    """One deliverable judged on `on`; 404 for an unknown code."""
    for j in (await judge_all(session, catalog, on=on, as_of=as_of)).items:
        if j.deliverable.code == code:
            return j
    raise _unknown(code)


def _group(key: str, name_zh: str, name_en: str, statuses: list[DeliverableStatus]) -> Group:
    counts = count_by_status(statuses)
    return Group(key=key, name_zh=name_zh, name_en=name_en, total=len(statuses), counts=counts,
                 on_time_rate=on_time_rate(counts))


async def plan_summary(session: AsyncSession, catalog: Catalog, *, on: date, as_of: datetime | None,
                       action_titles: dict[int, tuple[str, str]]) -> Summary:
    """Deliverables by status and the on-time rate, for all, per action and per department (every listed one)."""
    listing = await judge_all(session, catalog, on=on, as_of=as_of)
    by_action: dict[int, list[DeliverableStatus]] = {n: [] for n in sorted(action_titles)}
    by_dept: dict[str, list[DeliverableStatus]] = {}
    for j in listing.items:
        for n in j.actions:
            by_action.setdefault(n, []).append(j.status)
        for code in j.deliverable.departments:
            by_dept.setdefault(code, []).append(j.status)
    return Summary(
        on=on, as_of=as_of,
        total=_group("all", "全部", "All", [j.status for j in listing.items]),
        by_action=[_group(str(n), *action_titles.get(n, ("", "")), s) for n, s in sorted(by_action.items())],
        by_department=[_group(code, catalog.departments[code].name_zh, catalog.departments[code].name_en, s)
                       for code, s in sorted(by_dept.items()) if code in catalog.departments],
    )


def _names(catalog: Catalog | None, codes: list[str]) -> str:
    known = catalog.departments if catalog is not None else {}
    return "、".join(known[c].name_zh if c in known else c for c in codes)


def _unknown(code: str) -> NotFound:
    return NotFound(_("No deliverable '{code}'. The list is at /api/v1/deliverables.", code=code[:40]),
                    code="unknown_deliverable")


def _refuse(problems: list[ReportProblem]) -> Unprocessable:
    first = problems[0]
    return Unprocessable(
        first.message if len(problems) == 1 else _("{count} problems in the report; see errors.",
                                                   count=len(problems)),
        code=first.code,
        errors=[{"location": f"body.{p.field}", "code": p.code, "message": str(p.message)} for p in problems],
    )


@dataclass(frozen=True, slots=True)
class Reported:
    code: str
    revision: DeliverableRevision | None  # None when the report repeated the current one


async def report_deliverable(session: AsyncSession, *, caller: Principal, code: str, report: ReportInput,
                             request_id: str | None, catalog: Catalog | None = None,
                             client_request_id: str | None = None) -> Reported:
    """Record a department's (or admin's) report on a deliverable; one revision per change, nothing on refusal.
    With the catalog, a refusal names departments by their Chinese names."""
    if caller.role not in (Role.ADMIN, Role.DEPARTMENT):
        raise Forbidden(_("A {role} key cannot report on plan deliverables; this needs a department key of one "
                          "of its departments, or admin.", role=caller.role.value), code="role_cannot_report")
    found = await store.get_for_update(session, code)
    if found is None:
        raise _unknown(code)
    row, departments = found
    if not caller.may_report_for(departments):
        raise Forbidden(_("Deliverable {code} belongs to {departments}; this key reports for {department}.",
                          code=code, departments=_names(catalog, departments),
                          department=_names(catalog, [caller.department_code or ""])),
                        code="other_department")
    checked = check_report(report, today=today_in_shanghai())
    if isinstance(checked, list):
        raise _refuse(checked)
    if store.same_report(row, checked):
        return Reported(code=code, revision=None)
    revision = await store.record_report(session, row, checked, key_name=caller.name,
                                         department_code=caller.department_code, request_id=request_id,
                                         key_id=caller.key_id, client_request_id=client_request_id)
    return Reported(code=code, revision=revision)


@dataclass(frozen=True, slots=True)
class History:
    reports: list[DeliverableRevision]
    edits: list[DeliverableEdit]
    extension_events: list[tuple[ExtensionRequest, ExtensionEvent]]


async def deliverable_history(session: AsyncSession, code: str) -> History:
    """Every report on a deliverable, every correction and every extension step, oldest first; 404 for an
    unknown code."""
    if not await store.exists(session, code):
        raise _unknown(code)
    requests = await extension_store.listing(session, codes=[code])
    events = await extension_store.events(session, [x.id for x in requests if x.id is not None])
    return History(reports=await store.history(session, code), edits=await store.edits(session, code),
                   extension_events=[(x, e) for x in requests for e in events.get(x.id or 0, [])])
