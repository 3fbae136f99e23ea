"""A task's scorecard: its target rows and its deliverables, with the worst status of each kind."""

from fastapi import APIRouter, Path, Query, Request

from app.api.attainment import _day, _instant
from app.api.deliverables import deliverable_read
from app.api.deps import Catalogs, Reader, SessionDep
from app.domain.attainment import most_severe
from app.domain.deliverables import worst
from app.errors import NotFound
from app.i18n import _
from app.schemas.deliverables import Scorecard, Worst
from app.services import attainment as attainment_service
from app.services import attainment_reads as reads
from app.services import deliverables as service

router = APIRouter(tags=["deliverables"])


@router.get("/tasks/{n}/scorecard", response_model=Scorecard, responses={404: {}, 422: {}})
async def scorecard(
    request: Request,
    session: SessionDep,
    catalogs: Catalogs,
    _caller: Reader,
    n: int = Path(ge=1, le=999),
    date: str | None = Query(default=None, max_length=10),
    as_of: str | None = Query(default=None, max_length=40),
) -> Scorecard:
    """Where task n stands: every target row (city and districts), every deliverable, and the worst of each."""
    cat = await catalogs.snapshot(session)
    task = cat.tasks.get(n)
    if task is None:
        raise NotFound(_("No task {task}; tasks are numbered 1–{last}.", task=n, last=max(cat.tasks, default=0)),
                       code="unknown_task")
    on, when = _day(date), _instant(as_of)
    timeout = request.app.state.settings.report_timeout_seconds
    report = await attainment_service.report(session, cat, on=on, as_of=when, report_timeout=timeout)
    rows = [r for r in report.rows if cat.indicators[r.indicator].task_number == n]
    listing = await service.list_deliverables(session, cat, service.Filters(task=n), on=on, as_of=when)
    return Scorecard(
        task=n, action=task.action_number, text=task.text, departments=cat.task_departments.get(n, []),
        date=on.isoformat(), as_of=when.isoformat() if when else "now",
        worst=Worst(targets=most_severe(r.judgement.status for r in rows).value if rows else None,
                    deliverables=(w.value if (w := worst(j.status for j in listing.items)) else None)),
        targets=[reads.row_read(cat, r, report.pressed) for r in rows],
        deliverables=[deliverable_read(cat, j) for j in listing.items],
    )
