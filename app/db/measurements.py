"""Stored values: set-based reads and writes, and every change kept as a revision."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, text, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.db.bulk import chunks, upsert
from app.db.dialect import driver, is_postgres
from app.db.models import Measurement, MeasurementRevision
from app.domain.audit import Author
from app.domain.periods import Period, PeriodType
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


# PostgreSQL: one statement per table, the columns passed as unnest() arrays.
_CURRENT = """
SELECT m.indicator_code, m.unit_code, m.period, m.value, m.numerator, m.denominator, m.comment, m.deleted
FROM measurements m
JOIN unnest($1::text[], $2::text[], $3::text[]) AS k(i, u, p)
  ON m.indicator_code = k.i AND m.unit_code = k.u AND m.period = k.p
"""

# One statement for both tables: the arrays cross the wire once, the revisions are appended as the values land.
_WRITE = """
WITH t AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::date[], $6::date[], $7::int[],
                         $8::float8[], $9::float8[], $10::float8[], $11::text[], $12::text[], $13::float8[])
         AS t(i, u, p, pt, ps, pe, y, v, n, d, c, a, o)
),
up AS (
    INSERT INTO measurements (indicator_code, unit_code, period, period_type, period_start, period_end, year,
                              value, numerator, denominator, comment, deleted, updated_at)
    SELECT i, u, p, pt, ps, pe, y, v, n, d, c, false, $14 FROM t
    ON CONFLICT (indicator_code, unit_code, period) DO UPDATE
    SET value = excluded.value, numerator = excluded.numerator, denominator = excluded.denominator,
        comment = excluded.comment, deleted = false, updated_at = excluded.updated_at
)
INSERT INTO measurement_revisions (indicator_code, unit_code, period, period_type, period_start, period_end, year,
                                   action, value, numerator, denominator, comment, old_value, key_name, request_id,
                                   key_id, client_request_id, recorded_at)
SELECT i, u, p, pt, ps, pe, y, a, v, n, d, c, o, $15, $16, $17, $18, $14 FROM t
"""


async def _current_pg(session: AsyncSession, keys: Sequence[tuple[str, str, str]]) -> list[Any]:
    apg = await driver(session)
    return list(await apg.fetch(_CURRENT, [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys]))


async def _write_pg(session: AsyncSession, rows: Sequence[Any], *, actions: Sequence[str],
                old_values: Sequence[float | None], now: Any, by: Author) -> None:
    """Upsert clean rows and append their revisions (`rows` are domain.submission.Clean)."""
    apg = await driver(session)
    periods = [r.period for r in rows]
    await apg.execute(
        _WRITE, [r.indicator for r in rows], [r.unit for r in rows], [p.label for p in periods],
        [p.type.value for p in periods], [p.start for p in periods], [p.end for p in periods],
        [p.end.year for p in periods], [r.value for r in rows], [r.numerator for r in rows],
        [r.denominator for r in rows], [r.comment for r in rows], list(actions), list(old_values), now, by.key_name,
        by.request_id, by.key_id, by.client_request_id,
    )


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


async def lock(session: AsyncSession, cells: Iterable[tuple[str, int]]) -> None:
    """Serialise writers of the same (indicator, year) until commit, so histories and yearly totals stay exact.

    PostgreSQL: transaction advisory locks taken in a fixed order (no deadlocks). SQLite writers already hold
    the database's single write lock from BEGIN IMMEDIATE.
    """
    if not is_postgres(session):
        return
    names = sorted({f"{ind}:{year}" for ind, year in cells})
    if names:
        await session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(n)) FROM unnest(CAST(:names AS text[])) AS n ORDER BY n"),
            {"names": names},
        )


async def current(session: AsyncSession, keys: Sequence[Key]) -> dict[Key, Stored]:
    """The stored state of the given (indicator, unit, period) keys, deleted ones included."""
    out: dict[Key, Stored] = {}
    if is_postgres(session):
        for ind, unit, period, value, num, den, comment, deleted in await _current_pg(session, keys):
            out[(ind, unit, period)] = Stored(value, num, den, comment, deleted)
        return out
    for part in chunks(list(keys)):
        rows = await session.execute(
            select(M.c.indicator_code, M.c.unit_code, M.c.period, M.c.value, M.c.numerator, M.c.denominator,
                   M.c.comment, M.c.deleted)
            .where(tuple_(M.c.indicator_code, M.c.unit_code, M.c.period).in_(list(part)))
        )
        for ind, unit, period, value, num, den, comment, deleted in rows:
            out[(ind, unit, period)] = Stored(value, num, den, comment, deleted)
    return out


async def stored_periods(session: AsyncSession, pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str, Period]]:
    """Live periods already stored for the given (indicator, unit) pairs."""
    found: list[tuple[str, str, Period]] = []
    for part in chunks(sorted(set(pairs))):
        rows = await session.execute(
            select(M.c.indicator_code, M.c.unit_code, M.c.period, M.c.period_type, M.c.period_start, M.c.period_end)
            .where(tuple_(M.c.indicator_code, M.c.unit_code).in_(list(part)), M.c.deleted.is_(False))
        )
        for ind, unit, label, ptype, start, end in rows:
            found.append((ind, unit, Period(PeriodType(ptype), label, start, end)))
    return found


def _state(row: Clean, now: datetime) -> dict[str, Any]:
    p = row.period
    return {
        "indicator_code": row.indicator, "unit_code": row.unit, "period": p.label, "period_type": p.type.value,
        "period_start": p.start, "period_end": p.end, "year": p.year, "value": row.value,
        "numerator": row.numerator, "denominator": row.denominator, "comment": row.comment,
    }


async def write(
    session: AsyncSession,
    rows: Sequence[Clean],
    *,
    before: dict[Key, Stored],
    by: Author,
    now: datetime,
) -> None:
    """Upsert the rows and append one revision each, in the caller's transaction (one statement per table)."""
    if not rows:
        return
    olds = [before.get(r.key) for r in rows]
    old_values = [o.value if o is not None and not o.deleted else None for o in olds]
    actions = ["update" if o is not None and not o.deleted else "create" for o in olds]
    if is_postgres(session):
        await _write_pg(session, rows, actions=actions, old_values=old_values, now=now, by=by)
        return
    revs = [
        {**_state(r, now), "action": action, "old_value": old, **by.columns(), "recorded_at": now}
        for r, action, old in zip(rows, actions, old_values, strict=True)
    ]
    values = [{**_state(r, now), "deleted": False, "updated_at": now} for r in rows]
    stmt = upsert(session, M)
    stmt = stmt.on_conflict_do_update(
        index_elements=[M.c.indicator_code, M.c.unit_code, M.c.period],
        set_={c: stmt.excluded[c] for c in ("value", "numerator", "denominator", "comment", "deleted", "updated_at")},
    )
    await session.execute(stmt, values)
    await session.execute(R.insert(), revs)


async def delete(
    session: AsyncSession, *, key: Key, by: Author, now: datetime
) -> Measurement | None:
    """Flag a live value deleted and record it; None if there was nothing to delete."""
    found = await session.execute(select(M.c.year).where(M.c.indicator_code == key[0], M.c.unit_code == key[1],
                                                         M.c.period == key[2]))
    for (year,) in found:
        await lock(session, [(key[0], year)])
    row = (await session.execute(
        select(Measurement).where(
            col(Measurement.indicator_code) == key[0], col(Measurement.unit_code) == key[1],
            col(Measurement.period) == key[2], col(Measurement.deleted).is_(False),
        )
    )).scalar_one_or_none()
    if row is None:
        return None
    await session.execute(update(M).where(M.c.id == row.id).values(deleted=True, updated_at=now))
    await session.execute(R.insert(), [{
        "indicator_code": row.indicator_code, "unit_code": row.unit_code, "period": row.period,
        "period_type": row.period_type, "period_start": row.period_start, "period_end": row.period_end,
        "year": row.year, "action": "delete", "value": None, "numerator": None, "denominator": None,
        "comment": None, "old_value": row.value, **by.columns(), "recorded_at": now,
    }])
    return row


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
