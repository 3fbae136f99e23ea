"""Stored values: set-based reads and writes, and every change kept as a revision."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.db.dialect import driver, is_postgres
from app.db.models import Measurement, MeasurementRevision
from app.domain.periods import Period
from app.domain.submission import Clean

M = Measurement.__table__  # type: ignore[attr-defined]
R = MeasurementRevision.__table__  # type: ignore[attr-defined]

Key = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class Stored:
    value: float | None
    numerator: float | None
    denominator: float | None
    comment: str | None
    deleted: bool

    def same_as(self, row: Clean) -> bool:
        return not self.deleted and (self.value, self.numerator, self.denominator, self.comment) == (
            row.value, row.numerator, row.denominator, row.comment,
        )


OVERLAP_STATES = frozenset({"23P01", "40P01"})  # exclusion_violation, deadlock_detected


class PeriodsOverlap(Exception):  # noqa: N818 — a state of the data, not a programming error
    """Another transaction stored a flow period overlapping one of these first (PostgreSQL's exclusion constraint,
    or a deadlock between two such inserts); nothing of this write was kept."""


def revisions_columns() -> tuple[str, ...]:
    """The columns of a value revision a write supplies (the author's and the stamp come apart)."""
    return _REVISION_COLS


_REVISION_COLS = ("indicator_code", "unit_code", "period", "period_type", "period_start", "period_end", "year",
                  "action", "value", "numerator", "denominator", "comment", "old_value")
@dataclass(frozen=True, slots=True)
class CellValue:
    """A stored value of a locked cell, live or deleted."""

    period: Period
    stored: Stored


def _state(row: Clean) -> dict[str, Any]:
    p = row.period
    return {
        "indicator_code": row.indicator, "unit_code": row.unit, "period": p.label, "period_type": p.type.value,
        "period_start": p.start, "period_end": p.end, "year": p.year, "value": row.value,
        "numerator": row.numerator, "denominator": row.denominator, "comment": row.comment,
    }


def revisions(rows: Sequence[Clean], before: dict[Key, "Stored"]) -> list[dict[str, Any]]:
    """One revision per written row: created, or updated from its old value."""
    out = []
    for r in rows:
        old = before.get(r.key)
        live = old is not None and not old.deleted
        out.append({**_state(r), "action": "update" if live else "create",
                    "old_value": old.value if live and old is not None else None})
    return out


async def delete(session: AsyncSession, *, key: Key, now: datetime) -> tuple[Measurement, dict[str, Any]] | None:
    """Flag a live value deleted (its cell locked by the caller); the value and its revision (for `record`), or
    None if there was nothing."""
    row = (await session.execute(
        select(Measurement).where(
            col(Measurement.indicator_code) == key[0], col(Measurement.unit_code) == key[1],
            col(Measurement.period) == key[2], col(Measurement.deleted).is_(False),
        )
    )).scalar_one_or_none()
    if row is None:
        return None
    await session.execute(update(M).where(M.c.id == row.id).values(deleted=True, updated_at=now))
    revision = {
        "indicator_code": row.indicator_code, "unit_code": row.unit_code, "period": row.period,
        "period_type": row.period_type, "period_start": row.period_start, "period_end": row.period_end,
        "year": row.year, "action": "delete", "value": None, "numerator": None, "denominator": None,
        "comment": None, "old_value": row.value,
    }
    return row, revision


async def set_flow(session: AsyncSession, indicator: str, *, flow: bool) -> None:
    """Mark an indicator's stored values as a flow's (after its measure changed). Raises PeriodsOverlap when its
    live periods overlap, which a flow may not."""
    stmt = update(M).where(M.c.indicator_code == indicator).values(is_flow=flow)
    if not is_postgres(session):
        await session.execute(stmt)
        return
    try:
        async with session.begin_nested():
            await session.execute(stmt)
    except Exception as exc:
        chain: BaseException | None = exc
        while chain is not None and getattr(chain, "sqlstate", None) not in OVERLAP_STATES:
            chain = chain.__cause__ or getattr(chain, "orig", None)
        if chain is None:
            raise
        raise PeriodsOverlap(str(exc)) from None


_VALUES_AS_OF = """
SELECT indicator_code, unit_code, period, period_type, period_start, period_end, year, value, numerator,
       denominator, comment, recorded_at
FROM (
    SELECT r.*, row_number() OVER (PARTITION BY indicator_code, unit_code, period ORDER BY id DESC) AS rn
    FROM measurement_revisions r
    WHERE recorded_at <= $1 AND period_end <= $2
) latest
WHERE rn = 1 AND action <> 'delete'
"""


async def values_as_of_pg(session: AsyncSession, *, as_of: Any, end: Any, timeout: float) -> list[Any]:
    """Every value as it stood at `as_of`, for periods ending by `end`: a long read, with its own time limit."""
    apg = await driver(session)
    return list(await apg.fetch(_VALUES_AS_OF, as_of, end, timeout=timeout))


@dataclass(frozen=True, slots=True)
class ValueRow:
    indicator: str
    unit: str
    period: str
    period_type: str
    period_start: date
    period_end: date
    year: int
    value: float | None
    numerator: float | None
    denominator: float | None
    comment: str | None
    recorded_at: datetime | None


def _filters(cols: Any, *, indicator: str | None, units: Sequence[str] | None, start: date | None,
             end: date | None, years: Sequence[int] | None = None) -> list[Any]:
    conds = []
    if indicator:
        conds.append(cols.indicator_code == indicator)
    if units is not None:
        conds.append(cols.unit_code.in_(list(units)))
    if start:
        conds.append(cols.period_end >= start)
    if end:
        conds.append(cols.period_end <= end)
    if years is not None:
        conds.append(cols.year.in_(list(years)))
    return conds


def _after(cols: Any, cursor: Key | None) -> list[Any]:
    if cursor is None:
        return []
    ind, unit, period = cursor
    return [or_(
        cols.indicator_code > ind,
        and_(cols.indicator_code == ind, cols.unit_code > unit),
        and_(cols.indicator_code == ind, cols.unit_code == unit, cols.period > period),
    )]


async def values(
    session: AsyncSession,
    *,
    indicator: str | None = None,
    units: Sequence[str] | None = None,
    start: date | None = None,
    end: date | None = None,
    as_of: datetime | None = None,
    after: Key | None = None,
    limit: int | None = None,
) -> list[ValueRow]:
    """Live values in key order — current ones, or as they stood at `as_of` (from the revisions)."""
    if as_of is None:
        stmt = (
            select(M.c.indicator_code, M.c.unit_code, M.c.period, M.c.period_type, M.c.period_start, M.c.period_end,
                   M.c.year, M.c.value, M.c.numerator, M.c.denominator, M.c.comment, M.c.updated_at)
            .where(M.c.deleted.is_(False), *_filters(M.c, indicator=indicator, units=units, start=start, end=end),
                   *_after(M.c, after))
        )
        order = (M.c.indicator_code, M.c.unit_code, M.c.period)
    else:
        ranked = (
            select(R, func.row_number().over(
                partition_by=(R.c.indicator_code, R.c.unit_code, R.c.period), order_by=R.c.id.desc(),
            ).label("rn"))
            .where(R.c.recorded_at <= as_of, *_filters(R.c, indicator=indicator, units=units, start=start, end=end),
                   *_after(R.c, after))
            .subquery()
        )
        stmt = (
            select(ranked.c.indicator_code, ranked.c.unit_code, ranked.c.period, ranked.c.period_type,
                   ranked.c.period_start, ranked.c.period_end, ranked.c.year, ranked.c.value, ranked.c.numerator,
                   ranked.c.denominator, ranked.c.comment, ranked.c.recorded_at)
            .where(ranked.c.rn == 1, ranked.c.action != "delete")
        )
        order = (ranked.c.indicator_code, ranked.c.unit_code, ranked.c.period)
    stmt = stmt.order_by(*order)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [ValueRow(*tuple(r)) for r in await session.execute(stmt)]


async def history(session: AsyncSession, key: Key) -> list[MeasurementRevision]:
    """Every revision of one value, oldest first."""
    stmt = (
        select(MeasurementRevision)
        .where(col(MeasurementRevision.indicator_code) == key[0], col(MeasurementRevision.unit_code) == key[1],
               col(MeasurementRevision.period) == key[2])
        .order_by(col(MeasurementRevision.id))
    )
    return list((await session.execute(stmt)).scalars())
