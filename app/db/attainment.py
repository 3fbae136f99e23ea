"""Reads that feed the attainment rules: targets (current or as of), kept yearly values (db.yearly, now or as of),
and values as they stood at an instant — a bounded number of set-based queries whatever the data size."""

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import measurements, yearly
from app.db.dialect import is_postgres
from app.db.models import CatalogRevision, MeasurementRevision, Target
from app.domain.attainment import AT_RISK_PACE, ON_TRACK_PACE, Kind, TargetSpec
from app.domain.report import TargetInfo
from app.domain.yearly import YearValue

Series = dict[tuple[str, str], dict[int, YearValue]]


def _target_info(d: Any) -> TargetInfo:
    # Revisions written before per-target thresholds existed simply lack them: the defaults apply.
    on_track, at_risk = d.get("threshold_on_track"), d.get("threshold_at_risk")
    spec = TargetSpec(kind=Kind(d["kind"]), op=d["op"], value=float(d["value"]), year=d["year"],
                      year_from=d["year_from"], baseline_value=d["baseline_value"], baseline_year=d["baseline_year"],
                      on_track=ON_TRACK_PACE if on_track is None else float(on_track),
                      at_risk=AT_RISK_PACE if at_risk is None else float(at_risk))
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


async def kept(
    session: AsyncSession, units: set[str], indicators: set[str], last_year: int, *, as_of: datetime | None = None
) -> Series:
    """Kept yearly values of the given units and indicators for years up to `last_year`: as they stand, or as the
    kept rows stood at `as_of` (db.yearly.kept_rows); an own value says whether it covers its year."""
    rows = await yearly.kept_rows(session, indicators=indicators, units=units, as_of=as_of)
    return yearly.as_series(rows.values(), last_year=last_year)


async def before_kept_history(session: AsyncSession, as_of: datetime) -> bool:
    """Whether values were recorded at or before `as_of` but the kept rows' history starts after it (a database
    upgraded from the first layout)."""
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
