"""Plan deliverables in the store: the catalog rows, their current report and every report's revision."""

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.db.models import Deliverable as DeliverableRow
from app.db.models import DeliverableDepartment, DeliverableRevision, PlanRow, PlanRowTask
from app.db.models_supervision import DeliverableEdit
from app.db.supervision import Facts, facts, installed_on, latest_edits
from app.domain.deliverable_reports import ValidReport
from app.domain.deliverables import PROGRESS_DAYS, Deliverable, Report, State

D = DeliverableRow.__table__  # type: ignore[attr-defined]
R = DeliverableRevision.__table__  # type: ignore[attr-defined]


async def _links(session: AsyncSession) -> tuple[dict[str, list[str]], dict[int, list[int]]]:
    deps: dict[str, list[str]] = defaultdict(list)
    rows = await session.execute(
        select(col(DeliverableDepartment.deliverable_code), col(DeliverableDepartment.department_code))
        .order_by(col(DeliverableDepartment.deliverable_code), col(DeliverableDepartment.position)))
    for code, dept in rows:
        deps[code].append(dept)
    tasks: dict[int, list[int]] = defaultdict(list)
    for seq, task in await session.execute(select(col(PlanRowTask.plan_row_seq), col(PlanRowTask.task_number))
                                           .order_by(col(PlanRowTask.task_number))):
        tasks[seq].append(task)
    return deps, tasks


def _report(state: str, done_on: Any, document_no: Any, url: Any, note: Any, at: Any, by: Any) -> Report:
    return Report(state=State(state), done_on=done_on, document_no=document_no, url=url, note=note,
                  reported_at=at, reported_by=by)


async def load(session: AsyncSession, *, as_of: datetime | None = None) -> list[Deliverable]:
    """Every deliverable in code order, with its report now or as it stood at `as_of` (from the revisions)."""
    deps, tasks = await _links(session)
    P = PlanRow.__table__  # type: ignore[attr-defined]
    rows = (await session.execute(
        select(D, P.c.number.label("row_number"), P.c.deadline_text).join(P, P.c.seq == D.c.plan_row_seq)
        .order_by(D.c.plan_row_seq, D.c.n))).mappings().all()
    reports: dict[str, Report] = {}
    if as_of is None:
        for r in rows:
            reports[r["code"]] = _report(r["state"], r["done_on"], r["document_no"], r["url"], r["report_note"],
                                         r["reported_at"], r["reported_by"])
    else:
        latest = (select(R.c.deliverable_code, func.max(R.c.id).label("id"))
                  .where(R.c.recorded_at <= as_of).group_by(R.c.deliverable_code).subquery())
        found = await session.execute(
            select(R.c.deliverable_code, R.c.state, R.c.done_on, R.c.document_no, R.c.url, R.c.note, R.c.recorded_at,
                   R.c.key_name).join(latest, R.c.id == latest.c.id))
        for code, *fields in found:
            reports[code] = _report(*fields)
    known = await facts(session, as_of=as_of)
    since = await installed_on(session)
    out = []
    for r in rows:
        f = known.get(r["code"]) or Facts()
        e = f.edit  # an admin's correction replaces the seed's title, deadline and departments
        out.append(Deliverable(
            code=r["code"], row=r["plan_row_seq"], n=r["n"], title=e.title if e else r["title"],
            deadline=e.deadline if e else r["deadline"],
            departments=tuple(e.departments if e else deps.get(r["code"], ())),
            tasks=tuple(tasks.get(r["plan_row_seq"], ())), source=r["source"], note=r["note"],
            row_number=r["row_number"], deadline_text=r["deadline_text"], report=reports.get(r["code"], Report()),
            extended_to=f.extended_to, extension_pending=f.extension_pending,
            progress_days=e.progress_days if e else PROGRESS_DAYS,
            progress_from=e.progress_from if e and e.progress_from else since,
            progress_reported=tuple(sorted(f.progress_reported))))
    return out


async def get_for_update(session: AsyncSession, code: str) -> tuple[DeliverableRow, list[str]] | None:
    """The deliverable row, locked against concurrent reports (PostgreSQL; SQLite writers are serial), and its
    departments."""
    row = (await session.execute(select(DeliverableRow).where(col(DeliverableRow.code) == code)
                                 .with_for_update())).scalar_one_or_none()
    if row is None:
        return None
    edit = (await latest_edits(session, code=code)).get(code)
    if edit is not None:
        return row, list(edit.departments)
    deps = await session.execute(select(col(DeliverableDepartment.department_code))
                                 .where(col(DeliverableDepartment.deliverable_code) == code)
                                 .order_by(col(DeliverableDepartment.position)))
    return row, list(deps.scalars())


def same_report(row: DeliverableRow, report: ValidReport) -> bool:
    """Whether a report says exactly what the deliverable's current one does (a resend: no new revision)."""
    return (row.reported_at is not None and row.state == report.state.value and row.done_on == report.done_on
            and row.document_no == report.document_no and row.url == report.url and row.report_note == report.note)


async def record_report(session: AsyncSession, row: DeliverableRow, report: ValidReport, *, key_name: str,
                        department_code: str | None, request_id: str | None, key_id: int | None = None,
                        client_request_id: str | None = None) -> DeliverableRevision:
    """Make `report` the deliverable's current one and keep it as a revision, in the caller's transaction."""
    revision = DeliverableRevision(
        deliverable_code=row.code, state=report.state.value, done_on=report.done_on, document_no=report.document_no,
        url=report.url, note=report.note, old_state=row.state if row.reported_at is not None else None,
        key_name=key_name, department_code=department_code, request_id=request_id, key_id=key_id,
        client_request_id=client_request_id,
    )
    session.add(revision)
    await session.flush()
    row.state, row.done_on, row.document_no = report.state.value, report.done_on, report.document_no
    row.url, row.report_note = report.url, report.note
    row.reported_at, row.reported_by = revision.recorded_at, key_name
    await session.flush()
    return revision


async def history(session: AsyncSession, code: str) -> list[DeliverableRevision]:
    """Every report on one deliverable, oldest first."""
    stmt = (select(DeliverableRevision).where(col(DeliverableRevision.deliverable_code) == code)
            .order_by(col(DeliverableRevision.id)))
    return list((await session.execute(stmt)).scalars())


async def exists(session: AsyncSession, code: str) -> bool:
    return (await session.execute(select(D.c.code).where(D.c.code == code))).first() is not None


async def latest_edit(session: AsyncSession, code: str) -> DeliverableEdit | None:
    """The admin's correction now in force for one deliverable, or None."""
    return (await latest_edits(session, code=code)).get(code)


async def edits(session: AsyncSession, code: str) -> list[DeliverableEdit]:
    """Every admin correction of one deliverable, oldest first."""
    stmt = (select(DeliverableEdit).where(col(DeliverableEdit.deliverable_code) == code)
            .order_by(col(DeliverableEdit.id)))
    return list((await session.execute(stmt)).scalars())
