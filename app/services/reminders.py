"""The reminder scheduler (SPEC "Supervision", "Reminders and 催办"): one run reads deliverables and reporting
duties, asks app.domain.reminders which notices are due today, and stores them exactly once.

Exactly once across processes and replicas: on PostgreSQL one run at a time holds an advisory lock (the others
skip the round), and the notifications' unique key (subject, kind, due day, recipient) settles anything else,
restarts included. Other services add their own notices through `notify` (批示, replies, extension decisions).
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from app import clock
from app.db import deliverables as deliverable_store
from app.db import notifications as store
from app.db.catalog import read_catalog
from app.db.notifications import NewNotice
from app.domain.catalog import Catalog
from app.domain.deliverables import Deliverable, DeliverableStatus
from app.domain.reminder_text import deliverable_text, report_text
from app.domain.reminders import (
    Kind,
    Pressed,
    Recipient,
    RecipientKind,
    deliverable_recipients,
    deliverable_step,
    report_step,
)
from app.domain.reporting import due_date
from app.metrics import NOTIFICATIONS_CREATED
from app.services import completeness, supervision_notices

log = structlog.get_logger()
OPEN = frozenset({DeliverableStatus.OVERDUE, DeliverableStatus.DUE_SOON, DeliverableStatus.NOT_DUE})


@dataclass(frozen=True, slots=True)
class Run:
    """What one scheduler run did: whether it held the lock, and the notices it created."""

    ran: bool
    created: list[int]


def _pressed(rows: Iterable[tuple[str, str, date, datetime]], deadlines: dict[str, date | None]
             ) -> dict[str, Pressed]:
    """Per deliverable, what was sent since its current deadline passed (an extension starts a new count). The
    next 催办 counts from the day the last notice was sent: a notice caught up after downtime is not followed by
    a 催办 the next morning."""
    days: dict[str, set[date]] = defaultdict(set)
    urges: dict[str, set[date]] = defaultdict(set)
    for code, kind, day, created_at in rows:
        deadline = deadlines.get(code)
        if deadline is None or day <= deadline:
            continue
        days[code].add(max(day, created_at.astimezone(clock.SHANGHAI).date()))
        if kind == Kind.URGE:
            urges[code].add(day)
    return {code: Pressed(max(ds), len(urges[code])) for code, ds in days.items()}


def _link(public_url: str, path: str) -> str:
    return public_url.rstrip("/") + path


def deliverable_notices(catalog: Catalog, deliverables: Iterable[Deliverable], *, today: date, first_day: date,
                        pressed: dict[str, Pressed], public_url: str) -> list[NewNotice]:
    """The deadline reminders, overdue notices and 催办 due today."""
    out: list[NewNotice] = []
    for d in deliverables:
        deadline = d.effective_deadline
        step = deliverable_step(deadline=deadline, open_=d.status(today) in OPEN, today=today,
                                first_day=first_day, pressed=pressed.get(d.code, Pressed()))
        if step is None or deadline is None or not d.departments:
            continue
        names = "、".join(catalog.departments[c].name_zh if c in catalog.departments else c for c in d.departments)
        text = deliverable_text(step, code=d.code, title=d.title, deadline=deadline, departments=names,
                                link=_link(public_url, f"/departments/{d.departments[0]}#{d.code}"))
        for r in deliverable_recipients(step.kind, d.departments):
            out.append(NewNotice(step.kind, "deliverable", d.code, r, step.due_day, step.seq, text.title, text.body,
                                 text.link))
    return out


async def report_notices(session: AsyncSession, catalog: Catalog, *, today: date, first_day: date,
                         public_url: str) -> list[NewNotice]:
    """Reporting reminders 7 days before an indicator's due date and missing-report notices the day after it,
    for the latest year already due and any year falling due within the week."""
    out: list[NewNotice] = []
    for year in (today.year - 2, today.year - 1, today.year):
        # Only indicators with something due this year: within the week before the due date, or past it while
        # it is still the latest year due (missing reports).
        inds = [c for c, i in catalog.indicators.items()
                if due_date(year, i.due_days) - timedelta(days=7) <= today <= due_date(year + 1, i.due_days)]
        if not inds:
            continue
        for item in await completeness.items(session, catalog, year=year, on=today, as_of=None, indicators=inds):
            ind = catalog.indicators[item.indicator]
            latest_past = item.due < today and due_date(year + 1, ind.due_days) >= today
            step = report_step(due=item.due, state=item.state, today=today, first_day=first_day,
                               latest_past=latest_past)
            if step is None:
                continue
            unit = catalog.units[item.unit].name if item.unit in catalog.units else item.unit
            text = report_text(step, indicator=ind.name_zh, unit=unit, year=year, due=item.due,
                               link=_link(public_url, f"/indicators/{ind.code}"))
            out.append(NewNotice(step.kind, "indicator", f"{ind.code}@{year}", Recipient(RecipientKind.UNIT, item.unit),
                                 step.due_day, None, text.title, text.body, text.link))
    return out


async def due_notices(session: AsyncSession, *, today: date, first_day: date, public_url: str) -> list[NewNotice]:
    """Everything due today, whether or not it was already stored."""
    catalog = await read_catalog(session)
    deliverables = await deliverable_store.load(session)
    pressed = _pressed(await store.pressed_rows(session), {d.code: d.effective_deadline for d in deliverables})
    link = public_url.rstrip("/")
    return [*deliverable_notices(catalog, deliverables, today=today, first_day=first_day, pressed=pressed,
                                 public_url=public_url),
            *await report_notices(session, catalog, today=today, first_day=first_day, public_url=public_url),
            *supervision_notices.progress_notices(deliverables, today=today, first_day=first_day, link=link),
            *await supervision_notices.extension_notices(session, {d.code: d for d in deliverables},
                                                         first_day=first_day, link=link),
            *await supervision_notices.instruction_notices(session, catalog, first_day=first_day, link=link)]


async def run_once(session: AsyncSession, *, public_url: str) -> Run:
    """One scheduler run in the caller's write transaction; skipped when another process holds the run."""
    if not await store.claim_scheduler(session):
        return Run(False, [])
    now = clock.now()
    today = clock.today()
    first = await store.first_day(session, today, now)
    notices = await due_notices(session, today=today, first_day=first, public_url=public_url)
    created = await store.create(session, notices, now=now)
    for kind in {n.kind for n in notices}:
        NOTIFICATIONS_CREATED.labels(kind=kind.value)
    for _id, kind in created:
        NOTIFICATIONS_CREATED.labels(kind=kind.value).inc()
    if created:
        log.info("reminders created", count=len(created), today=today.isoformat())
    return Run(True, [i for i, _k in created])


async def notify(session: AsyncSession, notices: Iterable[NewNotice]) -> list[int]:
    """Store notices other services raise (批示 to its departments, a reply to the leaders, an extension decision
    to its requester): once per (subject, kind, due day, recipient), queued to the recipients' channels."""
    created = await store.create(session, notices, now=clock.now())
    for _id, kind in created:
        NOTIFICATIONS_CREATED.labels(kind=kind.value).inc()
    return [i for i, _k in created]


async def dry_run(session: AsyncSession, *, day: date, public_url: str) -> list[NewNotice]:
    """What a run on `day` would create (nothing stored)."""
    first = await store.recorded_first_day(session) or day
    notices = await due_notices(session, today=day, first_day=min(first, day), public_url=public_url)
    return [n for n in notices if not await store.exists(session, n)]

