"""The roll-up's statements: mark cells dirty, claim them, read what kept rows are made of, write them back.

A claim is per (indicator, year) group: the claimer holds the group's advisory lock (PostgreSQL; SQLite's single
writer serialises anyway) and deletes the group's dirty rows in its own transaction, so two processes never roll up
one cell at once, and a crash before commit leaves the rows for the next one. The group of the year after is held
too: a cell's quality flags compare it with the year before, so its flags belong to both groups.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Integer, String, delete, func, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.bulk import cells_in, chunks, upsert
from app.db.dialect import is_postgres
from app.db.models import DirtyCell, MeasurementRevision, YearlyValue, YearlyValueRevision
from app.db.yearly import KEY, STATE, _kept_row
from app.domain.timeline import EMPTY, State, ValueRevision

D = DirtyCell.__table__  # type: ignore[attr-defined]
R = MeasurementRevision.__table__  # type: ignore[attr-defined]
Y = YearlyValue.__table__  # type: ignore[attr-defined]
H = YearlyValueRevision.__table__  # type: ignore[attr-defined]

Cell = tuple[str, str, int]  # indicator, unit, year
Group = tuple[str, int]  # indicator, year
CELL_TYPES = (String, String, Integer)


def marks(cells: Iterable[Cell], *, stamp: datetime) -> list[dict[str, Any]]:
    """The dirty rows a write adds, one per changed cell."""
    return [{"indicator_code": i, "unit_code": u, "year": y, "stamp": stamp} for i, u, y in sorted(set(cells))]


async def mark(session: AsyncSession, cells: Iterable[Cell], *, stamp: datetime) -> None:
    """Note cells whose values changed, in the write's transaction, with the write's stamp."""
    rows = marks(cells, stamp=stamp)
    if rows:
        await session.execute(D.insert(), rows)


async def backlog(session: AsyncSession) -> tuple[int, datetime | None]:
    """How many dirty rows wait, and the stamp of the oldest."""
    count, oldest = (await session.execute(select(func.count(), func.min(D.c.stamp)))).one()
    return int(count), _aware(oldest) if oldest is not None else None


async def any_waiting(session: AsyncSession) -> bool:
    return (await session.execute(select(D.c.id).limit(1))).first() is not None


async def waiting_groups(session: AsyncSession, *, limit: int) -> list[Group]:
    """Groups with dirty rows, oldest first."""
    stmt = (select(D.c.indicator_code, D.c.year, func.min(D.c.id).label("first"))
            .group_by(D.c.indicator_code, D.c.year).order_by(text("first")).limit(limit))
    return [(i, y) for i, y, _ in await session.execute(stmt)]


def _group_lock(group: Group) -> str:
    return f"rollup\x1f{group[0]}\x1f{group[1]}"


_HOLD_WAIT = text("""
SELECT pg_advisory_xact_lock(hashtextextended(n, 0)) FROM unnest(CAST(:names AS text[])) AS t(n) ORDER BY n
""")
_HOLD_TRY = text("""
SELECT n, pg_try_advisory_xact_lock(hashtextextended(n, 0)) FROM unnest(CAST(:names AS text[])) AS t(n) ORDER BY n
""")


async def hold(session: AsyncSession, groups: Sequence[Group], *, wait: bool) -> list[Group]:
    """Hold the groups (and each next year's) until commit; with `wait` False, only those free now."""
    if not is_postgres(session) or not groups:
        return list(groups)
    wanted = {g: {_group_lock(g), _group_lock((g[0], g[1] + 1))} for g in groups}
    names = sorted(set().union(*wanted.values()))
    if wait:
        await session.execute(_HOLD_WAIT, {"names": names})
        return list(groups)
    got = {n for n, ok in await session.execute(_HOLD_TRY, {"names": names}) if ok}
    # A group whose locks were only partly had is left for later; the locks it did get are harmless until commit.
    return [g for g in groups if wanted[g] <= got]


async def take(session: AsyncSession, groups: Sequence[Group]) -> tuple[dict[Group, set[str]], datetime | None]:
    """Remove the held groups' dirty rows: the units to roll up per group and the oldest stamp among them."""
    units: dict[Group, set[str]] = defaultdict(set)
    oldest: datetime | None = None
    for part in chunks(list(groups), 500):
        stmt = (delete(D).where(tuple_(D.c.indicator_code, D.c.year).in_(list(part)))
                .returning(D.c.indicator_code, D.c.unit_code, D.c.year, D.c.stamp))
        for ind, unit, year, stamp in await session.execute(stmt):
            units[(ind, year)].add(unit)
            stamp = _aware(stamp)
            oldest = stamp if oldest is None or stamp < oldest else oldest
    return dict(units), oldest


def _aware(value: Any) -> datetime:
    # DELETE … RETURNING may hand back the column's raw value on SQLite.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


async def value_revisions(session: AsyncSession, cells: Sequence[Cell]) -> dict[Cell, list[ValueRevision]]:
    """Every value revision of the given cells, in the order recorded."""
    out: dict[Cell, list[ValueRevision]] = defaultdict(list)
    for where in cells_in(session, (R.c.indicator_code, R.c.unit_code, R.c.year), sorted(set(cells)), CELL_TYPES):
        stmt = (select(R.c.indicator_code, R.c.unit_code, R.c.year, R.c.period, R.c.period_type, R.c.period_start,
                       R.c.period_end, R.c.action, R.c.value, R.c.numerator, R.c.denominator, R.c.recorded_at)
                .where(where).order_by(R.c.id))
        for r in await session.execute(stmt):
            out[(r[0], r[1], r[2])].append(ValueRevision(r[3], r[4], r[5], r[6], r[7] == "delete", r[8], r[9], r[10],
                                                         r[11]))
    return out


async def every_cell(session: AsyncSession, *, indicator: str | None = None) -> set[Cell]:
    """Every cell that has a value revision or a kept row (of one indicator, or all)."""
    out: set[Cell] = set()
    for table in (R, Y):
        stmt = select(table.c.indicator_code, table.c.unit_code, table.c.year).distinct()
        if indicator is not None:
            stmt = stmt.where(table.c.indicator_code == indicator)
        out.update((i, u, y) for i, u, y in await session.execute(stmt))
    return out


async def first_stamp(session: AsyncSession) -> datetime | None:
    """When the value revisions begin."""
    found = (await session.execute(select(func.min(R.c.recorded_at)))).scalar_one_or_none()
    return _aware(found) if found is not None else None


def _state_of(row: Any) -> State:
    kept = _kept_row(row)
    return State(kept.own, kept.sums, kept.value)


async def kept_lines(session: AsyncSession, cells: Sequence[Cell], *, since: datetime
                     ) -> dict[Cell, tuple[State, list[tuple[datetime, State]]]]:
    """Each cell's kept state valid just before `since` (EMPTY if none) and its revisions from `since` on."""
    out: dict[Cell, tuple[State, list[tuple[datetime, State]]]] = {c: (EMPTY, []) for c in cells}
    h2 = H.alias("h2")
    for where in cells_in(session, (H.c.indicator_code, H.c.unit_code, H.c.year), sorted(set(cells)), CELL_TYPES):
        base_at = (select(func.max(h2.c.recorded_at))
                   .where(h2.c.indicator_code == H.c.indicator_code, h2.c.unit_code == H.c.unit_code,
                          h2.c.year == H.c.year, h2.c.recorded_at < since)
                   .correlate(H).scalar_subquery())
        stmt = (select(H).where(where, H.c.recorded_at >= func.coalesce(base_at, since))
                .order_by(H.c.recorded_at, H.c.id))
        for r in await session.execute(stmt):
            m = r._mapping
            cell = (m["indicator_code"], m["unit_code"], m["year"])
            base, changes = out[cell]
            if m["recorded_at"] < since:
                out[cell] = (_state_of(m), changes)
            else:
                changes.append((m["recorded_at"], _state_of(m)))
    return out


async def store(session: AsyncSession, rows: Sequence[dict[str, Any]], revisions: Sequence[dict[str, Any]],
                *, cells: Sequence[Cell], since: datetime) -> None:
    """The kept rows' new states, and their history from `since` on replaced by the revisions given."""
    for where in cells_in(session, (H.c.indicator_code, H.c.unit_code, H.c.year), sorted(set(cells)), CELL_TYPES):
        await session.execute(delete(H).where(where, H.c.recorded_at >= since))
    names = (*KEY, *STATE)
    for revs in chunks(list(revisions), 500):
        await session.execute(H.insert(), [{**{n: r[n] for n in names}, "recorded_at": r["recorded_at"]}
                                           for r in revs])
    for kept in chunks(list(rows), 500):
        stmt = upsert(session, Y)
        stmt = stmt.on_conflict_do_update(index_elements=[Y.c[k] for k in KEY],
                                          set_={n: stmt.excluded[n] for n in (*STATE, "updated_at")})
        await session.execute(stmt, [{**{n: r[n] for n in (*KEY, *STATE)}, "updated_at": r["updated_at"]}
                                     for r in kept])

