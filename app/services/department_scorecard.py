"""The department scorecard use case: count each 处室's year (deliverables, progress reports, 批示, extensions,
city targets) on a day as known at an instant, and score it with the weights in force then."""

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.db import extensions as extension_store
from app.db import instructions as store
from app.domain.audit import Author
from app.domain.catalog import CITY, Catalog
from app.domain.deliverables import DeliverableStatus
from app.domain.department_scores import Counts, Line, Weights, check_weights, rank
from app.domain.instructions import Reply, local_day, replied_in_time
from app.domain.keys import Principal, Role
from app.domain.progress_dues import progress_dues
from app.errors import Forbidden, Unprocessable
from app.i18n import _, message_of
from app.services import attainment, deliverables, instructions


@dataclass(frozen=True, slots=True)
class Scorecard:
    year: int
    on: date
    as_of: datetime | None
    weights: Weights
    lines: list[Line]


async def weights_at(session: AsyncSession, as_of: datetime | None) -> Weights:
    """The weights in force at `as_of` (now when None): the latest revision then, else the published defaults."""
    found = [w for w in await store.weights_history(session) if as_of is None or w.recorded_at <= as_of]
    if not found:
        return Weights()
    w = found[-1]
    return Weights(on_time=w.on_time, progress=w.progress, instructions=w.instructions, targets=w.targets)


async def set_weights(session: AsyncSession, weights: Weights, *, by: Principal, who: Author) -> Weights:
    """Publish new weights (admin); kept as a revision."""
    if by.role != Role.ADMIN:
        raise Forbidden(_("Only an admin sets the scorecard's weights."), code="role_cannot_weigh")
    try:
        check_weights(weights)
    except ValueError as exc:
        raise Unprocessable(message_of(exc), code=getattr(exc, "code", "invalid_weights")) from None
    store.add_weights(session, on_time=weights.on_time, progress=weights.progress,
                      instructions=weights.instructions, targets=weights.targets, who=who)
    await session.flush()
    return weights


@dataclass
class _Tally:
    by_status: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    by_light: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    days: Counter[str] = field(default_factory=Counter)
    progress: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    departments: dict[str, tuple[str, ...]] = field(default_factory=dict)  # deliverable code → its departments


async def _deliverable_counts(session: AsyncSession, catalog: Catalog, year: int, on: date,
                              as_of: datetime | None) -> _Tally:
    """Per department: deliverables whose effective deadline falls in the year, by status and light, days
    overdue; progress reports due in the year (any deliverable with a deadline) and on time."""
    t = _Tally()
    for j in (await deliverables.judge_all(session, catalog, on=on, as_of=as_of)).items:
        d = j.deliverable
        t.departments[d.code] = d.departments
        on_time, due = progress_dues(d, year=year, on=on)
        deadline = d.effective_deadline
        for dept in d.departments:
            t.progress[dept][0] += on_time
            t.progress[dept][1] += due
            if deadline is None or deadline.year != year:
                continue
            t.by_status[dept][j.status.value] += 1
            t.by_light[dept][j.light.value] += 1
            if j.status is DeliverableStatus.OVERDUE:
                t.days[dept] += (on - deadline).days
    return t


async def _extension_counts(session: AsyncSession, t: _Tally, year: int, as_of: datetime | None
                            ) -> tuple[Counter[str], Counter[str]]:
    """Per department of the deliverable: extension requests made in the year, and those approved (as of)."""
    made: Counter[str] = Counter()
    approved: Counter[str] = Counter()
    rows = [r for r in await extension_store.listing(session)
            if (as_of is None or r.created_at <= as_of) and local_day(r.created_at).year == year]
    events = await extension_store.events(session, [r.id for r in rows if r.id is not None])
    for r in rows:
        yes = any(e.state == "approved" and (as_of is None or e.recorded_at <= as_of) for e in events[r.id or 0])
        for dept in t.departments.get(r.deliverable_code, ()):
            made[dept] += 1
            approved[dept] += yes
    return made, approved


async def _instruction_counts(session: AsyncSession, year: int, on: date, as_of: datetime | None
                              ) -> tuple[Counter[str], Counter[str]]:
    """Per department: 批示 with respond_by in the year answered by then, and those judged (passed or answered)."""
    in_time: Counter[str] = Counter()
    addressed: Counter[str] = Counter()
    for v in await instructions.listing(session, instructions.Filters(), on=on, as_of=as_of):
        by = v.judged.respond_by
        if by is None or by.year != year:
            continue
        replies = [Reply(r.department_code, r.recorded_at) for r in v.loaded.replies
                   if as_of is None or r.recorded_at <= as_of]
        for dept in v.loaded.departments:
            answered = replied_in_time(dept, by, v.judged.opened_at, replies, on=on)
            if answered or on > by:
                addressed[dept] += 1
                in_time[dept] += answered
    return in_time, addressed


async def scorecard(session: AsyncSession, catalog: Catalog, *, year: int | None, on: date, as_of: datetime | None,
                    report_timeout: float) -> Scorecard:
    """Every department of the catalog scored for `year` (default: the judged day's) and ranked."""
    y = year or on.year
    tally = await _deliverable_counts(session, catalog, y, on, as_of)
    made, approved = await _extension_counts(session, tally, y, as_of)
    in_time, addressed = await _instruction_counts(session, y, on, as_of)
    report = await attainment.report(session, catalog, on=on, as_of=as_of, report_timeout=report_timeout)
    targets: dict[int, Counter[str]] = defaultdict(Counter)
    for row in report.rows:
        if row.unit_code == CITY:
            targets[catalog.indicators[row.indicator].task_number][row.judgement.status.value] += 1
    counts = []
    for dept in sorted(catalog.departments):
        mine: Counter[str] = Counter()
        for task in catalog.department_tasks.get(dept, []):
            mine.update(targets.get(task, Counter()))
        progress = tally.progress.get(dept, [0, 0])
        counts.append(Counts(department=dept, deliverables=dict(tally.by_status.get(dept, {})),
                             lights=dict(tally.by_light.get(dept, {})), days_overdue=tally.days[dept],
                             progress_on_time=progress[0], progress_due=progress[1],
                             instructions_in_time=in_time[dept], instructions_addressed=addressed[dept],
                             extensions_requested=made[dept], extensions_approved=approved[dept],
                             targets=dict(mine)))
    weights = await weights_at(session, as_of)
    return Scorecard(year=y, on=on, as_of=as_of, weights=weights, lines=rank(counts, weights))
