"""Kept yearly rows: per (indicator, unit, year) the unit's own yearly value, the sums of its children's values and
the effective A(u, y) they make (models.KeptState), so a report reads a few hundred rows, never every value.

A write keeps them exact without serialising the writers of an (indicator, year): its last statements lock the
rows it changes — the touched cells, then their parents, grandparents … up to the city — in one fixed order
(deepest level first, then indicator, unit, year), recompute the touched units' own values from their periods,
and apply each child's change to its parent as a difference of shares (domain.yearly.share). Every rule is the
domain's (own_yearly, share, effective); SQL here only moves rows. Each changed state is also appended to
yearly_value_revisions, stamped by the caller once all locks are held, so a past `as_of` reads the rows valid then.
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
from app.domain.periods import Period, PeriodType
from app.domain.yearly import Measure, Observation, Sums, YearValue, effective, own_yearly, period_key, share, total_of

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
                          covers=bool(r["own"] and r["own_covers"]))
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
SELECT indicator_code, unit_code, year, total, false, 0, false, 0, 0, 0, 0, $5
FROM {_unnest((*KEY, "total"))} ORDER BY indicator_code, unit_code, year
ON CONFLICT (indicator_code, unit_code, year) DO UPDATE SET total = excluded.total
RETURNING y.*
"""


async def _lock(session: AsyncSession, cells: Sequence[Cell], totals: Sequence[int], now: datetime) -> dict[
        Cell, KeptRow]:
    """Create the missing rows and lock all of them, in the given (sorted) order; their current state."""
    if is_postgres(session):
        apg = await driver(session)
        found = await apg.fetch(_LOCK_PG, [c[0] for c in cells], [c[1] for c in cells], [c[2] for c in cells],
                                list(totals), now)
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


async def _observations(session: AsyncSession, cells: Sequence[Cell]) -> list[tuple[Any, ...]]:
    """Live periods of the given cells: (indicator, unit, label, type, start, end, value, numerator, denominator)."""
    cols = (M.c.indicator_code, M.c.unit_code, M.c.period, M.c.period_type, M.c.period_start, M.c.period_end,
            M.c.value, M.c.numerator, M.c.denominator)
    if is_postgres(session):
        apg = await driver(session)
        found = await apg.fetch(
            "SELECT m.indicator_code, m.unit_code, m.period, m.period_type, m.period_start, m.period_end, m.value, "
            "m.numerator, m.denominator FROM measurements m JOIN unnest($1::text[], $2::text[], $3::int[]) "
            "AS k(i, u, y) ON m.indicator_code = k.i AND m.unit_code = k.u AND m.year = k.y WHERE NOT m.deleted",
            [c[0] for c in cells], [c[1] for c in cells], [c[2] for c in cells])
        return [tuple(r) for r in found]
    rows: list[tuple[Any, ...]] = []
    for part in chunks(list(cells), 500):
        found = await session.execute(select(*cols).where(
            M.c.deleted.is_(False), tuple_(M.c.indicator_code, M.c.unit_code, M.c.year).in_(list(part))))
        rows.extend(tuple(r) for r in found)
    return rows


async def _own(session: AsyncSession, catalog: Catalog, cells: Sequence[Cell]) -> dict[Cell, YearValue]:
    """Each cell's own yearly value, from its unit's live periods of that year (domain.yearly.own_yearly)."""
    groups: dict[Cell, list[Observation]] = defaultdict(list)
    for ind, unit, label, ptype, start, end, value, num, den in await _observations(session, cells):
        groups[(ind, unit, end.year)].append(Observation(Period(PeriodType(ptype), label, start, end), value, num,
                                                         den))
    out = {}
    for cell, group in groups.items():
        found = own_yearly(measure=Measure(catalog.indicators[cell[0]].measure), observations=group).get(cell[2])
        if found is not None:
            out[cell] = found
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


def _apply(sums: Sums, old: Sums, new: Sums) -> tuple[Sums, bool]:
    """Sums with one child's share replaced; True when the latest period must be found again among the children."""
    count = sums.count - old.count + new.count
    if count == 0:
        return Sums(), False  # nothing left: exact zeros, no rounding residue
    out = Sums(sums.value - old.value + new.value, sums.numerator - old.numerator + new.numerator,
               sums.denominator - old.denominator + new.denominator, count, sums.period, sums.period_start,
               sums.period_end)
    latest = period_key(sums.period, sums.period_start, sums.period_end)
    if new.count and period_key(new.period, new.period_start, new.period_end) > latest:
        return Sums(out.value, out.numerator, out.denominator, out.count, new.period, new.period_start,
                    new.period_end), False
    old_latest = old.count and period_key(old.period, old.period_start, old.period_end) == latest
    stays = new.count and period_key(new.period, new.period_start, new.period_end) == latest
    return out, bool(old_latest and not stays)


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


async def apply(session: AsyncSession, catalog: Catalog, touched: Iterable[Cell], *, now: datetime) -> list[
        dict[str, Any]]:
    """Bring the kept rows of the touched cells and of all their ancestors up to date, locking each row once, in
    one global order; to be the transaction's last statements. Returns the changed states, for `record`."""
    own_cells = set(touched)
    depth = {u: len(catalog.ancestors(u)) for u in {c[1] for c in own_cells}}
    pending: dict[int, set[Cell]] = defaultdict(set)
    for cell in own_cells:
        pending[depth[cell[1]]].add(cell)
    deltas: dict[Cell, list[tuple[Sums, Sums]]] = defaultdict(list)
    changed: list[dict[str, Any]] = []
    while pending:
        level = max(pending)
        cells = sorted(pending.pop(level))
        rows = await _lock(session, cells, [len(catalog.children.get(c[1], ())) for c in cells], now)
        owns = await _own(session, catalog, [c for c in cells if c in own_cells])
        states: dict[Cell, tuple[YearValue | None, Sums]] = {}
        again = []
        for cell in cells:
            row = rows[cell]
            own = owns.get(cell) if cell in own_cells else row.own
            sums = row.sums
            for old, new in deltas.pop(cell, []):
                sums, lost = _apply(sums, old, new)
                if lost:
                    again.append(cell)
            states[cell] = (own, sums)
        if again:
            for cell, sums in (await _children_shares(session, catalog, sorted(set(again)))).items():
                states[cell] = (states[cell][0], sums)
        store = []
        for cell in cells:
            ind, unit, year = cell
            own, sums = states[cell]
            measure = Measure(catalog.indicators[ind].measure)
            total = len(catalog.children.get(unit, ()))
            value = effective(measure=measure, year=year, own=own, sums=sums, total=total)
            state = _state(own, sums, value, total)
            old_row = rows[cell]
            if state == _state(old_row.own, old_row.sums, old_row.value, total):
                continue
            keyed = {"indicator_code": ind, "unit_code": unit, "year": year, **state, "updated_at": now}
            store.append(keyed)
            changed.append(keyed)
            before, after = share(measure, old_row.value), share(measure, value)
            parent = catalog.units[unit].parent_code if unit in catalog.units else None
            if parent is not None and before != after:
                deltas[(ind, parent, year)].append((before, after))
                pending[level - 1].add((ind, parent, year))
        await _store(session, store)
    return changed


async def record(session: AsyncSession, states: Sequence[dict[str, Any]], *, recorded_at: datetime) -> None:
    """Append the changed states to yearly_value_revisions (valid from `recorded_at`)."""
    if not states:
        return
    names = (*KEY, *STATE)
    if is_postgres(session):
        apg = await driver(session)
        await apg.execute(
            f"INSERT INTO yearly_value_revisions ({', '.join(names)}, recorded_at) SELECT t.*, ${len(names) + 1} "
            f"FROM {_unnest(names)}", *([s[n] for s in states] for n in names), recorded_at)
        return
    for part in chunks(list(states), 500):
        await session.execute(H.insert(), [{**{n: s[n] for n in names}, "recorded_at": recorded_at} for s in part])


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


async def hold_tables(session: AsyncSession) -> None:
    """Keep writers out of values and kept rows until commit (a rebuild); taken in the writers' own table order."""
    if is_postgres(session):
        from sqlalchemy import text

        await session.execute(text("LOCK TABLE measurements, yearly_values IN SHARE ROW EXCLUSIVE MODE"))


async def rebuild(session: AsyncSession, catalog: Catalog, *, now: datetime, indicator: str | None = None) -> int:
    """Recompute kept rows from the stored values (all, or one indicator's after its measure changed); the caller
    holds the tables still. Returns the number of rows written."""
    stmt = select(M.c.indicator_code, M.c.unit_code, M.c.year).where(M.c.deleted.is_(False)).distinct()
    if indicator is not None:
        stmt = stmt.where(M.c.indicator_code == indicator)
    cells = {(i, u, y) for i, u, y in await session.execute(stmt) if i in catalog.indicators}
    existing = select(Y.c.indicator_code, Y.c.unit_code, Y.c.year)
    if indicator is not None:
        existing = existing.where(Y.c.indicator_code == indicator)
    stale = {tuple(r) for r in await session.execute(existing)}
    # Start every row over from nothing, then replay each cell as if it had just been written.
    blank = _state(None, Sums(), None, 0)
    rows = [{"indicator_code": i, "unit_code": u, "year": y, **blank,
             "total": len(catalog.children.get(u, ())), "updated_at": now} for i, u, y in sorted(stale)]
    await _store(session, rows)
    changed = await apply(session, catalog, cells, now=now)
    await record(session, [*rows, *changed], recorded_at=now)
    return len(changed)


def as_series(rows: Iterable[KeptRow], *, last_year: int | None = None) -> dict[tuple[str, str], dict[int, YearValue]]:
    """Effective yearly values by (indicator, unit), as the attainment rules take them."""
    series: dict[tuple[str, str], dict[int, YearValue]] = defaultdict(dict)
    for r in rows:
        if r.value is not None and (last_year is None or r.year <= last_year):
            series[(r.indicator, r.unit)][r.year] = r.value
    return series

