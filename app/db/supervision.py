"""What the deliverables' judging needs from the supervision tables, as known at an instant: the admin's latest
correction, the latest approved extension, a pending request, the days progress was reported, the install day."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import clock
from app.db.models_supervision import DeliverableEdit, ExtensionRequest, FeatureInstall, ProgressReport
from app.domain.extensions import ExtensionState

E = DeliverableEdit.__table__  # type: ignore[attr-defined]
X = ExtensionRequest.__table__  # type: ignore[attr-defined]
P = ProgressReport.__table__  # type: ignore[attr-defined]
F = FeatureInstall.__table__  # type: ignore[attr-defined]
FEATURE = "supervision"


@dataclass(slots=True)
class Facts:
    edit: DeliverableEdit | None = None
    extended_to: date | None = None
    extension_pending: bool = False
    progress_reported: list[date] = field(default_factory=list)


async def installed_on(session: AsyncSession) -> date | None:
    """The day supervision was installed (the default start of the progress-report count)."""
    return (await session.execute(select(F.c.installed_on).where(F.c.feature == FEATURE))).scalar()


async def latest_edits(session: AsyncSession, *, as_of: datetime | None = None,
                       code: str | None = None) -> dict[str, DeliverableEdit]:
    """Each deliverable's correction in force at `as_of` (now when None)."""
    latest = select(E.c.deliverable_code, func.max(E.c.id).label("id")).group_by(E.c.deliverable_code)
    if as_of is not None:
        latest = latest.where(E.c.recorded_at <= as_of)
    if code is not None:
        latest = latest.where(E.c.deliverable_code == code)
    sub = latest.subquery()
    rows = await session.execute(select(DeliverableEdit).join(sub, DeliverableEdit.id == sub.c.id))  # type: ignore[arg-type]
    return {e.deliverable_code: e for e in rows.scalars()}


async def facts(session: AsyncSession, *, as_of: datetime | None = None) -> dict[str, Facts]:
    """Per deliverable code, what supervision says at `as_of` (now when None)."""
    out: dict[str, Facts] = defaultdict(Facts)
    for code, edit in (await latest_edits(session, as_of=as_of)).items():
        out[code].edit = edit
    approved = X.c.state == ExtensionState.APPROVED.value
    if as_of is not None:
        approved = and_(approved, X.c.decided_at <= as_of)
    for code, day in await session.execute(select(X.c.deliverable_code, func.max(X.c.new_deadline))
                                           .where(approved).group_by(X.c.deliverable_code)):
        out[code].extended_to = day
    if as_of is None:
        pending = X.c.state == ExtensionState.PENDING.value
    else:
        pending = and_(X.c.created_at <= as_of, or_(X.c.state == ExtensionState.PENDING.value,
                                                    X.c.decided_at > as_of))
    for (code,) in await session.execute(select(X.c.deliverable_code).where(pending).distinct()):
        out[code].extension_pending = True
    reported = select(P.c.deliverable_code, P.c.recorded_at)
    if as_of is not None:
        reported = reported.where(P.c.recorded_at <= as_of)
    for code, at in await session.execute(reported):
        out[code].progress_reported.append(at.astimezone(clock.SHANGHAI).date())
    return out
