"""Reads that feed the attainment rules besides the kept rows (db.yearly): targets (current or as of), and values
as they stood at an instant — a bounded number of set-based queries whatever the data size."""

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import measurements, yearly
from app.db.dialect import is_postgres
from app.db.models import CatalogRevision, MeasurementRevision, Target
from app.domain.attainment import Kind, TargetSpec
from app.domain.report import TargetInfo
from app.domain.yearly import YearValue

Series = dict[tuple[str, str], dict[int, YearValue]]


def _target_info(d: Any) -> TargetInfo:
    spec = TargetSpec(kind=Kind(d["kind"]), op=d["op"], value=float(d["value"]), year=d["year"],
                      year_from=d["year_from"], baseline_value=d["baseline_value"], baseline_year=d["baseline_year"])
    return TargetInfo(id=int(d["id"]), indicator=d["indicator_code"], unit_code=d["unit_code"], spec=spec)


async def targets(session: AsyncSession, *, as_of: datetime | None) -> list[TargetInfo]:
    """Targets as they stand now, or as they stood at `as_of` (rebuilt from their revisions)."""
    if as_of is None:
        rows = (await session.execute(select(Target))).scalars()
        return [_target_info(t.model_dump()) for t in rows]
    R = CatalogRevision.__table__  # type: ignore[attr-defined]
    ranked = (
        select(R.c.data, R.c.action, func.row_number().over(partition_by=R.c.entity_key, order_by=R.c.id.desc())
               .label("rn"))
        .where(R.c.entity == "target", R.c.recorded_at <= as_of)
        .subquery()
    )
    states = await session.execute(select(ranked.c.data).where(ranked.c.rn == 1, ranked.c.action != "delete"))
    return [_target_info(data) for (data,) in states if data]


async def before_kept_history(session: AsyncSession, as_of: datetime) -> bool:
    """Whether values were recorded at or before `as_of` but the kept rows' history starts after it."""
    since = await yearly.history_since(session)
    if since is None or as_of >= since:
        return False
    R = MeasurementRevision.__table__  # type: ignore[attr-defined]
    return (await session.execute(select(R.c.id).where(R.c.recorded_at <= as_of).limit(1))).first() is not None


async def values_as_of(
    session: AsyncSession, *, as_of: datetime, end: date, timeout: float
) -> Iterable[measurements.ValueRow]:
    """Every value as it stood at `as_of`, for periods ending by `end`."""
    if is_postgres(session):
        # Rebuilding the past reads every revision: allowed longer than an ordinary statement.
        latest = await measurements.values_as_of_pg(session, as_of=as_of, end=end, timeout=timeout)
        return (measurements.ValueRow(*tuple(r)) for r in latest)
    return await measurements.values(session, as_of=as_of, end=end)
