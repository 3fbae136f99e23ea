"""A submission's statements: its locks, one read of everything it checks, one write of everything it changes.

PostgreSQL runs each as one statement (arrays through unnest, the write as one CTE), so a single-value POST is
BEGIN, `hold`, `read`, `store`, COMMIT. SQLite has neither arrays nor writable CTEs, and needs no locks (its one
writer holds the database from BEGIN IMMEDIATE): there the same read and write are a few small statements.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import locks, rollup
from app.db.bulk import chunks, upsert
from app.db.catalog import version_sql
from app.db.dialect import is_postgres
from app.db.measurements import OVERLAP_STATES, CellValue, PeriodsOverlap, Stored, revisions_columns
from app.db.models import (
    IdempotencyRecord,
    Measurement,
    MeasurementRevision,
    Review,
    Unit,
    YearlyValue,
)
from app.domain.audit import Author
from app.domain.periods import Period, PeriodType
from app.domain.review import ReviewState

M = Measurement.__table__  # type: ignore[attr-defined]
R = MeasurementRevision.__table__  # type: ignore[attr-defined]
RV = Review.__table__  # type: ignore[attr-defined]
I = IdempotencyRecord.__table__  # type: ignore[attr-defined]  # noqa: E741
U = Unit.__table__  # type: ignore[attr-defined]
Y = YearlyValue.__table__  # type: ignore[attr-defined]

Key = tuple[str, str, str]
Cell = tuple[str, str, int]
Group = tuple[str, str | None, int]  # indicator, parent, year


@dataclass(frozen=True, slots=True)
class Receipt:
    """An idempotency record to keep: the API key, the Idempotency-Key, and what the request was."""

    key_id: int
    key: str
    fingerprint: str

    @property
    def lock_name(self) -> str:
        return f"idempotency\x1f{self.key_id}\x1f{self.key}"


@dataclass(frozen=True, slots=True)
class Answer:
    """A kept answer, replayed to the same request under the same key."""

    fingerprint: str
    status_code: int
    body: str
    media_type: str


@dataclass
class Plan:
    """What a write locks and reads."""

    cells: set[Cell]  # the cells it writes (locked)
    datasets: set[tuple[str, int]]  # their units' and ancestors' (unit, year)s (read: approved ones refuse)
    held: set[tuple[str, int]] = field(default_factory=set)  # the dataset lock keys held shared (locking.lock_keys)
    flows: set[tuple[str, str]] = field(default_factory=set)  # flow (indicator, unit)s: every stored period
    before: set[Cell] = field(default_factory=set)  # cells read unlocked: the year before, for warnings
    groups: set[Group] = field(default_factory=set)  # sibling groups (with a parent), for warnings


@dataclass
class Seen:
    stored: dict[Key, CellValue] = field(default_factory=dict)  # every value of `cells` and `before`
    periods: list[tuple[str, str, Period]] = field(default_factory=list)  # live periods of `flows`
    approved: dict[tuple[str, int], int] = field(default_factory=dict)
    # Per sibling group: count, sum and sum of squares of the kept own values of the units the write does not name.
    peers: dict[Group, tuple[int, float, float]] = field(default_factory=dict)
    answer: Answer | None = None


class Busy(Exception):  # noqa: N818 — a state, not a programming error
    """Another request holds the same Idempotency-Key right now."""


_HOLD = text(f"""
WITH idem AS (SELECT CASE WHEN CAST(:idem AS text) IS NULL THEN true
                          ELSE pg_try_advisory_xact_lock(hashtextextended(CAST(:idem AS text), 0)) END AS free),
held AS (SELECT CASE WHEN shared THEN pg_advisory_xact_lock_shared(hashtextextended(n, 0))
                     ELSE pg_advisory_xact_lock(hashtextextended(n, 0)) END AS got
         FROM unnest(CAST(:shared AS bool[]), CAST(:names AS text[])) AS t(shared, n), idem
         WHERE idem.free ORDER BY n, shared)
SELECT idem.free, (SELECT count(*) FROM held), {version_sql()} FROM idem
""")


async def hold(session: AsyncSession, plan: Plan, receipt: Receipt | None) -> tuple[Any, ...] | None:
    """Take the write's locks (and, first, its Idempotency-Key: Busy at once if another request holds it) and
    read the catalog's version; None on SQLite, where BEGIN IMMEDIATE has already serialised the writers."""
    if not is_postgres(session):
        return None
    shared, names = locks.plan(plan.cells, plan.held)
    row = (await session.execute(_HOLD, {"idem": receipt.lock_name if receipt else None, "shared": shared,
                                               "names": names})).one()
    if not row[0]:
        raise Busy()
    return tuple(row[2:])


_KINDS = text("""
SELECT 'm' AS kind, m.indicator_code AS a, m.unit_code AS b, m.period AS c, m.period_type AS d, m.period_start AS e,
       m.period_end AS f, m.value AS g, m.numerator AS h, m.denominator AS i, m.comment AS j, m.deleted AS k,
       NULL::int AS l
FROM measurements m JOIN unnest(CAST(:mi AS text[]), CAST(:mu AS text[]), CAST(:my AS int[])) AS c(i, u, y)
  ON m.indicator_code = c.i AND m.unit_code = c.u AND m.year = c.y
UNION ALL
SELECT 'f', m.indicator_code, m.unit_code, m.period, m.period_type, m.period_start, m.period_end, NULL, NULL, NULL,
       NULL, NULL, NULL
FROM measurements m JOIN unnest(CAST(:fi AS text[]), CAST(:fu AS text[])) AS p(i, u)
  ON m.indicator_code = p.i AND m.unit_code = p.u
WHERE NOT m.deleted
UNION ALL
SELECT 'r', NULL, r.unit_code, NULL, NULL, NULL, NULL, r.id, NULL, NULL, NULL, NULL, r.year
FROM reviews r JOIN unnest(CAST(:ru AS text[]), CAST(:ry AS int[])) AS d(u, y) ON r.unit_code = d.u AND r.year = d.y
WHERE r.state = 'approved'
UNION ALL
SELECT 'p', g.i, g.p, NULL, NULL, NULL, NULL, count(y.own_value), sum(y.own_value), sum(y.own_value * y.own_value),
       NULL, NULL, g.y
FROM unnest(CAST(:gi AS text[]), CAST(:gp AS text[]), CAST(:gy AS int[])) AS g(i, p, y)
JOIN units u ON u.parent_code = g.p
JOIN yearly_values y ON y.indicator_code = g.i AND y.unit_code = u.code AND y.year = g.y AND y.own
WHERE (y.indicator_code, y.unit_code, y.year) NOT IN (
    SELECT * FROM unnest(CAST(:wi AS text[]), CAST(:wu AS text[]), CAST(:wy AS int[])))
GROUP BY g.i, g.p, g.y
UNION ALL
SELECT 'i', x.fingerprint, x.media_type, x.body, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, x.status_code
FROM idempotency_records x
WHERE x.api_key_id = CAST(:ik AS int) AND x.key = CAST(:ikey AS text) AND x.state = 'done' AND x.created_at > :since
""")


async def read(session: AsyncSession, plan: Plan, receipt: Receipt | None, *, ttl: timedelta, now: datetime
               ) -> Seen:
    """Everything a write checks, read once its locks are held: its cells' values (and the year before's), the flow
    periods it may overlap, approved datasets, its sibling groups' kept own values, and a kept answer."""
    seen = Seen()
    if is_postgres(session):
        cells = sorted(plan.cells | plan.before)
        flows = sorted(plan.flows)
        datasets = sorted(plan.datasets)
        groups = sorted(plan.groups, key=lambda g: (g[0], g[1] or "", g[2]))
        written = sorted(plan.cells)
        params = {"mi": [c[0] for c in cells], "mu": [c[1] for c in cells], "my": [c[2] for c in cells],
                  "fi": [p[0] for p in flows], "fu": [p[1] for p in flows],
                  "ru": [d[0] for d in datasets], "ry": [d[1] for d in datasets],
                  "gi": [g[0] for g in groups], "gp": [g[1] for g in groups], "gy": [g[2] for g in groups],
                  "wi": [c[0] for c in written], "wu": [c[1] for c in written], "wy": [c[2] for c in written],
                  "ik": receipt.key_id if receipt else None, "ikey": receipt.key if receipt else None,
                  "since": now - ttl}
        for r in await session.execute(_KINDS, params):
            _take(seen, r)
        return seen
    # SQLite: the same reads, one statement each.
    seen.stored = await _cells_sqlite(session, plan.cells | plan.before)
    for part in chunks(sorted(plan.flows), 500):
        for r in await session.execute(select(M.c.indicator_code, M.c.unit_code, M.c.period, M.c.period_type,
                                              M.c.period_start, M.c.period_end)
                                       .where(tuple_(M.c.indicator_code, M.c.unit_code).in_(list(part)),
                                              M.c.deleted.is_(False))):
            seen.periods.append((r[0], r[1], Period(PeriodType(r[3]), r[2], r[4], r[5])))
    for some in chunks(sorted(plan.datasets), 500):
        for unit, year, rid in await session.execute(
                select(RV.c.unit_code, RV.c.year, RV.c.id)
                .where(tuple_(RV.c.unit_code, RV.c.year).in_(list(some)), RV.c.state == ReviewState.APPROVED)):
            seen.approved[(unit, year)] = rid
    written = sorted(plan.cells)
    for ind, parent, year in plan.groups:
        v = Y.c.own_value
        stmt = (select(func.count(v), func.sum(v), func.sum(v * v)).join(U, U.c.code == Y.c.unit_code)
                .where(Y.c.indicator_code == ind, Y.c.year == year, Y.c.own.is_(True),
                       U.c.parent_code.is_(None) if parent is None else U.c.parent_code == parent))
        if written:
            stmt = stmt.where(tuple_(Y.c.indicator_code, Y.c.unit_code, Y.c.year).not_in(written))
        count, total, squares = (await session.execute(stmt)).one()
        if count:
            seen.peers[(ind, parent, year)] = (int(count), float(total), float(squares))
    if receipt is not None:
        found = (await session.execute(select(I.c.fingerprint, I.c.status_code, I.c.body, I.c.media_type).where(
            I.c.api_key_id == receipt.key_id, I.c.key == receipt.key, I.c.state == "done",
            I.c.created_at > now - ttl))).first()
        if found is not None:
            seen.answer = Answer(found[0], found[1], found[2] or "", found[3] or "")
    return seen


def _take(seen: Seen, r: Any) -> None:
    kind = r[0]
    if kind == "m":
        seen.stored[(r[1], r[2], r[3])] = CellValue(Period(PeriodType(r[4]), r[3], r[5], r[6]),
                                                    Stored(r[7], r[8], r[9], r[10], r[11]))
    elif kind == "f":
        seen.periods.append((r[1], r[2], Period(PeriodType(r[4]), r[3], r[5], r[6])))
    elif kind == "r":
        seen.approved[(r[2], r[12])] = int(r[7])
    elif kind == "p":
        seen.peers[(r[1], r[2], r[12])] = (int(r[7]), float(r[8]), float(r[9]))
    elif kind == "i":
        seen.answer = Answer(r[1], r[12], r[3] or "", r[2] or "")


async def _cells_sqlite(session: AsyncSession, cells: Iterable[Cell]) -> dict[Key, CellValue]:
    out: dict[Key, CellValue] = {}
    for part in chunks(sorted(set(cells)), 500):
        for r in await session.execute(
                select(M.c.indicator_code, M.c.unit_code, M.c.period, M.c.period_type, M.c.period_start,
                       M.c.period_end, M.c.value, M.c.numerator, M.c.denominator, M.c.comment, M.c.deleted)
                .where(tuple_(M.c.indicator_code, M.c.unit_code, M.c.year).in_(list(part)))):
            out[(r[0], r[1], r[2])] = CellValue(Period(PeriodType(r[3]), r[2], r[4], r[5]),
                                                Stored(r[6], r[7], r[8], r[9], r[10]))
    return out


_STORE = text("""
WITH v AS (
    INSERT INTO measurements (indicator_code, unit_code, period, period_type, period_start, period_end, year,
                              value, numerator, denominator, comment, is_flow, deleted, updated_at)
    SELECT i, u, p, pt, ps, pe, y, v, n, d, c, f, false, :now
    FROM unnest(CAST(:vi AS text[]), CAST(:vu AS text[]), CAST(:vp AS text[]), CAST(:vpt AS text[]),
                CAST(:vps AS date[]), CAST(:vpe AS date[]), CAST(:vy AS int[]), CAST(:vv AS float8[]),
                CAST(:vn AS float8[]), CAST(:vd AS float8[]), CAST(:vc AS text[]), CAST(:vf AS bool[]))
         AS t(i, u, p, pt, ps, pe, y, v, n, d, c, f)
    ORDER BY i, u, p
    ON CONFLICT (indicator_code, unit_code, period) DO UPDATE
    SET value = excluded.value, numerator = excluded.numerator, denominator = excluded.denominator,
        comment = excluded.comment, is_flow = excluded.is_flow, deleted = false, updated_at = excluded.updated_at
), r AS (
    INSERT INTO measurement_revisions (indicator_code, unit_code, period, period_type, period_start, period_end, year,
                                       action, value, numerator, denominator, comment, old_value, key_name,
                                       request_id, key_id, client_request_id, recorded_at)
    SELECT *, CAST(:key_name AS text), CAST(:request_id AS text), CAST(:key_id AS int),
           CAST(:client_request_id AS text), :stamp
    FROM unnest(CAST(:ri AS text[]), CAST(:ru AS text[]), CAST(:rp AS text[]), CAST(:rpt AS text[]),
                CAST(:rps AS date[]), CAST(:rpe AS date[]), CAST(:ry AS int[]), CAST(:ra AS text[]),
                CAST(:rv AS float8[]), CAST(:rn AS float8[]), CAST(:rd AS float8[]), CAST(:rc AS text[]),
                CAST(:ro AS float8[]))
), d AS (
    INSERT INTO rollup_dirty (indicator_code, unit_code, year, stamp)
    SELECT *, :stamp FROM unnest(CAST(:di AS text[]), CAST(:du AS text[]), CAST(:dy AS int[]))
), k AS (
    INSERT INTO idempotency_records (api_key_id, key, fingerprint, state, status_code, body, media_type, created_at,
                                     lease_until)
    SELECT CAST(:ik AS int), CAST(:ikey AS text), CAST(:ifp AS text), 'done', CAST(:istatus AS int),
           CAST(:ibody AS text), CAST(:imedia AS text), :now, :now
    WHERE CAST(:ikey AS text) IS NOT NULL
    ON CONFLICT (api_key_id, key) DO UPDATE
    SET fingerprint = excluded.fingerprint, state = 'done', status_code = excluded.status_code,
        body = excluded.body, media_type = excluded.media_type, created_at = excluded.created_at,
        lease_until = excluded.lease_until
)
SELECT 1
""")


@dataclass
class Change:
    """What a write stores: the values, their revisions (stamped `stamp`), the cells they dirty."""

    values: list[dict[str, Any]]
    revisions: list[dict[str, Any]]
    cells: set[Cell]
    flows: bool  # whether any value is a flow's (its periods may meet the exclusion constraint)


async def store(session: AsyncSession, change: Change, *, by: Author, stamp: datetime, now: datetime,
                receipt: Receipt | None, answer: Answer | None) -> None:
    """Write the values, their revisions, the dirty marks and the kept answer together. Raises PeriodsOverlap,
    having undone it all, when a concurrent write stored an overlapping flow period first."""
    values = sorted(change.values, key=lambda v: (v["indicator_code"], v["unit_code"], v["period"]))
    kept = {"ik": receipt.key_id if receipt else None, "ikey": receipt.key if receipt and answer else None,
            "ifp": receipt.fingerprint if receipt else None, "istatus": answer.status_code if answer else None,
            "ibody": answer.body if answer else None, "imedia": answer.media_type if answer else None}
    if not is_postgres(session):
        await _store_sqlite(session, values, change, by=by, stamp=stamp, now=now, kept=kept)
        return
    cells = sorted(change.cells)
    params = {
        "now": now, "stamp": stamp, **kept,
        **_arrays("v", values, ("indicator_code", "unit_code", "period", "period_type", "period_start",
                                "period_end", "year", "value", "numerator", "denominator", "comment", "is_flow"),
                  ("i", "u", "p", "pt", "ps", "pe", "y", "v", "n", "d", "c", "f")),
        **_arrays("r", change.revisions, revisions_columns(), ("i", "u", "p", "pt", "ps", "pe", "y", "a", "v", "n",
                                                                "d", "c", "o")),
        "key_name": by.key_name, "request_id": by.request_id, "key_id": by.key_id,
        "client_request_id": by.client_request_id,
        "di": [c[0] for c in cells], "du": [c[1] for c in cells], "dy": [c[2] for c in cells],
    }
    if not change.flows:
        await session.execute(_STORE, params)
        return
    # Only flows can meet the exclusion constraint: a savepoint undoes just this statement if they do.
    try:
        async with session.begin_nested():
            await session.execute(_STORE, params)
    except Exception as exc:
        if _sqlstate(exc) not in OVERLAP_STATES:
            raise
        raise PeriodsOverlap(str(exc)) from None


def _arrays(prefix: str, rows: Sequence[dict[str, Any]], names: Sequence[str], short: Sequence[str]
            ) -> dict[str, list[Any]]:
    return {f"{prefix}{s}": [r[n] for r in rows] for n, s in zip(names, short, strict=True)}


def _sqlstate(exc: BaseException) -> str | None:
    chain: BaseException | None = exc
    while chain is not None:
        state = getattr(chain, "sqlstate", None)
        if state is not None:
            return str(state)
        chain = chain.__cause__ or getattr(chain, "orig", None)
    return None


async def _store_sqlite(session: AsyncSession, values: Sequence[dict[str, Any]], change: Change, *, by: Author,
                        stamp: datetime, now: datetime, kept: dict[str, Any]) -> None:
    if values:
        stmt = upsert(session, M)
        stmt = stmt.on_conflict_do_update(
            index_elements=[M.c.indicator_code, M.c.unit_code, M.c.period],
            set_={c: stmt.excluded[c] for c in ("value", "numerator", "denominator", "comment", "is_flow",
                                                "deleted", "updated_at")})
        await session.execute(stmt, [{**v, "deleted": False, "updated_at": now} for v in values])
    if change.revisions:
        await session.execute(R.insert(), [{**r, **by.columns(), "recorded_at": stamp} for r in change.revisions])
    await rollup.mark(session, change.cells, stamp=stamp)
    await keep_answer(session, kept, now=now)


async def keep_answer(session: AsyncSession, kept: dict[str, Any], *, now: datetime) -> None:
    """Keep an answer under its Idempotency-Key (replacing one kept longer ago than the time to live)."""
    if kept.get("ikey") is None:
        return
    stmt = upsert(session, I)
    row = {"api_key_id": kept["ik"], "key": kept["ikey"], "fingerprint": kept["ifp"], "state": "done",
           "status_code": kept["istatus"], "body": kept["ibody"], "media_type": kept["imedia"], "created_at": now,
           "lease_until": now}
    stmt = stmt.values(row).on_conflict_do_update(
        index_elements=[I.c.api_key_id, I.c.key],
        set_={c: stmt.excluded[c] for c in ("fingerprint", "state", "status_code", "body", "media_type",
                                            "created_at", "lease_until")})
    await session.execute(stmt)
