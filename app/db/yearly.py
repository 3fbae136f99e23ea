"""Kept yearly rows: per (indicator, unit, year) the unit's own yearly value, the sums of its children's values and
the effective A(u, y) they make (models.KeptState), so a report reads a few hundred rows, never every value.

The roll-up (services.rollup) keeps them, with their history in yearly_value_revisions, so a past `as_of` reads the
rows valid then. Every rule is the domain's (own_yearly, share, effective); SQL here only moves rows.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.bulk import chunks
from app.db.dialect import driver, is_postgres
from app.db.models import KeptState, Measurement, Unit, YearlyValue, YearlyValueRevision
from app.domain.catalog import Catalog
from app.domain.yearly import Measure, Sums, YearValue, share, total_of

M = Measurement.__table__  # type: ignore[attr-defined]
Y = YearlyValue.__table__  # type: ignore[attr-defined]
H = YearlyValueRevision.__table__  # type: ignore[attr-defined]
U = Unit.__table__  # type: ignore[attr-defined]

Cell = tuple[str, str, int]  # indicator, unit, year
KEY = ("indicator_code", "unit_code", "year")
STATE = tuple(KeptState.model_fields)
_PG_TYPES = {"value": "float8", "numerator": "float8", "denominator": "float8", "period": "text",
             "period_start": "date", "period_end": "date", "own": "bool", "reported": "int", "total": "int",
             "own_value": "float8", "own_numerator": "float8", "own_denominator": "float8", "own_period": "text",
             "own_period_start": "date", "own_period_end": "date", "own_covers": "bool", "kids_value": "float8",
             "kids_numerator": "float8", "kids_denominator": "float8", "kids_count": "int", "kids_period": "text",
             "kids_period_start": "date", "kids_period_end": "date", "indicator_code": "text", "unit_code": "text",
             "year": "int", "updated_at": "timestamptz", "recorded_at": "timestamptz"}


@dataclass(frozen=True, slots=True)
class KeptRow:
    """One kept row as the rules see it (see kept_rows)."""

    indicator: str
    unit: str
    year: int
    own: YearValue | None
    sums: Sums
    value: YearValue | None  # the effective A(u, y)


def _kept_row(r: Any) -> KeptRow:
    year = r["year"]
    own = None
    if r["own_period"] is not None:
        own = YearValue(year, r["own_value"], r["own_numerator"], r["own_denominator"], r["own_period"],
                        r["own_period_end"], True, period_start=r["own_period_start"], covers=r["own_covers"])
    sums = Sums(r["kids_value"], r["kids_numerator"], r["kids_denominator"], r["kids_count"], r["kids_period"],
                r["kids_period_start"], r["kids_period_end"])
    value = None
    if r["value"] is not None:
        # An own value is no aggregate: it carries no completeness (reported/total 0), as own_yearly makes it.
        value = YearValue(year, r["value"], r["numerator"], r["denominator"], r["period"], r["period_end"], r["own"],
                          0 if r["own"] else r["reported"], 0 if r["own"] else r["total"],
                          period_start=r["period_start"],
                          covers=bool(r["own_covers"]) if r["own"] else True)
    return KeptRow(r["indicator_code"], r["unit_code"], year, own, sums, value)


def _state(own: YearValue | None, sums: Sums, value: YearValue | None, total: int) -> dict[str, Any]:
    return {
        "value": value.value if value else None, "numerator": value.numerator if value else None,
        "denominator": value.denominator if value else None, "period": value.period if value else None,
        "period_start": value.period_start if value else None, "period_end": value.period_end if value else None,
        "own": bool(value and value.own), "reported": value.reported if value and not value.own else 0,
        "total": total,
        "own_value": own.value if own else None, "own_numerator": own.numerator if own else None,
        "own_denominator": own.denominator if own else None, "own_period": own.period if own else None,
        "own_period_start": own.period_start if own else None, "own_period_end": own.period_end if own else None,
        "own_covers": bool(own and own.covers),
        "kids_value": sums.value, "kids_numerator": sums.numerator, "kids_denominator": sums.denominator,
        "kids_count": sums.count, "kids_period": sums.period, "kids_period_start": sums.period_start,
        "kids_period_end": sums.period_end,
    }


def _unnest(names: Sequence[str], first: int = 1) -> str:
    args = ", ".join(f"${first + k}::{_PG_TYPES[n]}[]" for k, n in enumerate(names))
    return f"unnest({args}) AS t({', '.join(names)})"


_LOCK_PG = f"""
INSERT INTO yearly_values AS y ({', '.join(KEY)}, total, own, reported, own_covers, kids_value, kids_numerator,
                                kids_denominator, kids_count, updated_at)
SELECT indicator_code, unit_code, year, total, false, 0, false, 0, 0, 0, 0, $6
FROM unnest($1::text[], $2::text[], $3::int[], $4::int[], $5::int[]) AS t(indicator_code, unit_code, year, total, depth)
ORDER BY depth DESC, indicator_code, unit_code, year
ON CONFLICT (indicator_code, unit_code, year) DO UPDATE SET total = excluded.total
RETURNING y.*
"""


async def _lock(session: AsyncSession, catalog: Catalog, cells: Sequence[Cell], now: datetime) -> dict[
        Cell, KeptRow]:
    """Create the missing rows and lock all of them in the one global order (deepest units first, then indicator,
    unit, year) that every writer follows, so none waits for another in a cycle; their current state."""
    totals = [len(catalog.children.get(c[1], ())) for c in cells]
    if is_postgres(session):
        apg = await driver(session)
        found = await apg.fetch(_LOCK_PG, [c[0] for c in cells], [c[1] for c in cells], [c[2] for c in cells],
                                totals, [len(catalog.ancestors(c[1])) for c in cells], now)
        return {(r["indicator_code"], r["unit_code"], r["year"]): _kept_row(r) for r in found}
    # SQLite: the request already holds the database's only write lock (BEGIN IMMEDIATE).
    from sqlalchemy.dialects.sqlite import insert

    blank = _state(None, Sums(), None, 0)
    rows = [{**blank, "indicator_code": c[0], "unit_code": c[1], "year": c[2], "total": t, "updated_at": now}
            for c, t in zip(cells, totals, strict=True)]
    for part in chunks(rows, 500):
        await session.execute(insert(Y).on_conflict_do_nothing(), list(part))
    out: dict[Cell, KeptRow] = {}
    for keys in chunks(list(cells), 500):
        for r in await session.execute(select(Y).where(tuple_(Y.c.indicator_code, Y.c.unit_code, Y.c.year)
                                                       .in_(list(keys)))):
            row = _kept_row(r._mapping)
            out[(row.indicator, row.unit, row.year)] = row
    return out


async def _children_shares(session: AsyncSession, catalog: Catalog, cells: Sequence[Cell]) -> dict[Cell, Sums]:
    """Each parent cell's sums recomputed from its children's kept rows (when its latest child period went away)."""
    out: dict[Cell, Sums] = {}
    for ind, unit, year in cells:
        measure = Measure(catalog.indicators[ind].measure)
        kids = select(U.c.code).where(U.c.parent_code == unit)
        found = await session.execute(select(Y).where(Y.c.indicator_code == ind, Y.c.year == year,
                                                      Y.c.unit_code.in_(kids), Y.c.value.is_not(None)))
        out[(ind, unit, year)] = total_of(share(measure, _kept_row(r._mapping).value) for r in found)
    return out


async def _store(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Write the new states of locked rows."""
    if not rows:
        return
    names = (*KEY, *STATE, "updated_at")
    if is_postgres(session):
        sets = ", ".join(f"{n} = t.{n}" for n in (*STATE, "updated_at"))
        sql = (f"UPDATE yearly_values y SET {sets} FROM {_unnest(names)} WHERE y.indicator_code = t.indicator_code "
               "AND y.unit_code = t.unit_code AND y.year = t.year")
        apg = await driver(session)
        await apg.execute(sql, *([r[n] for r in rows] for n in names))
        return
    from sqlalchemy import bindparam

    stmt = (Y.update().where(and_(*(Y.c[k] == bindparam(f"k_{k}") for k in KEY)))
            .values({n: bindparam(f"v_{n}") for n in (*STATE, "updated_at")}))
    await session.execute(stmt, [{**{f"k_{k}": r[k] for k in KEY}, **{f"v_{n}": r[n] for n in (*STATE, "updated_at")}}
                                 for r in rows])


async def kept_rows(
    session: AsyncSession,
    *,
    indicators: Iterable[str],
    years: Iterable[int] | None = None,
    units: Iterable[str] | None = None,
    as_of: datetime | None = None,
) -> dict[Cell, KeptRow]:
    """The kept row of every unit (or of `units`) for the given indicators and years, now or as it stood at `as_of`.

    Each KeptRow carries, for one (indicator, unit, year):
    - `own`: the unit's own yearly value from its own periods (domain.yearly.own_yearly), or None; `own.covers`
      says whether those periods cover the year (ATTAINMENT.md "covers": any period for a stock or a rate, the
      whole year for a flow);
    - `sums`: its direct children's shares summed — `value` (stocks, flows), `numerator`/`denominator` (rates),
      `count` (children that have a value that counts), and the latest-ending child period;
    - `value`: the effective A(u, y) — own if any, else the children's aggregate (`reported` = sums.count).
    Completeness is computed from these rows at read time: a child has reported y when its own value covers y, or
    when its aggregate is complete by the same rule one level down. With `as_of`, each row is the revision valid
    at that instant (yearly_value_revisions), never a rebuild from the value revisions. Years with no value at
    all may still have a row (value None): a write keeps the row it once locked.
    """
    inds = sorted(set(indicators))
    conds = [Y.c.indicator_code.in_(inds)]
    if years is not None:
        conds.append(Y.c.year.in_(sorted(set(years))))
    unit_list = sorted(set(units)) if units is not None else None
    out: dict[Cell, KeptRow] = {}
    for part in chunks(unit_list, 1000) if unit_list is not None else [None]:
        where = [*conds, Y.c.unit_code.in_(list(part))] if part is not None else conds
        if as_of is None:
            stmt = select(Y).where(*where)
        else:
            # The revision valid at as_of of each row that exists now (a row, once created, is never removed).
            latest = (select(H.c.id).where(H.c.indicator_code == Y.c.indicator_code, H.c.unit_code == Y.c.unit_code,
                                           H.c.year == Y.c.year, H.c.recorded_at <= as_of)
                      .order_by(H.c.recorded_at.desc(), H.c.id.desc()).limit(1).correlate(Y).scalar_subquery())
            stmt = select(H).join(Y, H.c.id == latest).where(*where)
        for r in await session.execute(stmt):
            row = _kept_row(r._mapping)
            out[(row.indicator, row.unit, row.year)] = row
    return out


async def history_since(session: AsyncSession) -> datetime | None:
    """When the kept rows' revisions begin (a database migrated from an older layout starts them at its rebuild)."""
    return (await session.execute(select(H.c.recorded_at).order_by(H.c.id).limit(1))).scalar_one_or_none()


def as_series(rows: Iterable[KeptRow], *, last_year: int | None = None) -> dict[tuple[str, str], dict[int, YearValue]]:
    """Effective yearly values by (indicator, unit), as the attainment rules take them."""
    series: dict[tuple[str, str], dict[int, YearValue]] = defaultdict(dict)
    for r in rows:
        if r.value is not None and (last_year is None or r.year <= last_year):
            series[(r.indicator, r.unit)][r.year] = r.value
    return series

