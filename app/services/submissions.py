"""The district submission use case: resolve, authorise, check, classify, write — set-based throughout."""

import weakref
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.db import measurements, write
from app.db.catalog import CatalogCache
from app.db.dialect import is_postgres
from app.db.types import utcnow
from app.domain import quality as quality_rules
from app.domain.audit import Author
from app.domain.catalog import CITY, Catalog, IndicatorRow
from app.domain.keys import Principal, Role
from app.domain.payload import RawRow
from app.domain.periods import PeriodType
from app.domain.submission import (
    Clean,
    Code,
    Conflict,
    IndicatorRule,
    UnitProblem,
    UnitRef,
    check_row,
    reject_duplicates,
    reject_overlaps,
)
from app.domain.yearly import Measure, Observation, own_yearly
from app.errors import Forbidden, ServiceUnavailable, Unprocessable
from app.i18n import _
from app.i18n import render as render_text
from app.services.locking import datasets, lock_keys, split_locked

Cell = tuple[str, str, int]  # indicator, unit, year
Key = tuple[str, str, str]  # indicator, unit, period


@dataclass
class Outcome:
    """The answer to a submission, and per-unit tallies for the ingestion counters."""

    status_code: int
    result: str
    counts: dict[str, int]
    conflicts: list[dict[str, Any]]
    tallies: Counter[tuple[str, str]] = field(default_factory=Counter)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    changed: set[tuple[str, str, int]] = field(default_factory=set)  # yearly cells whose values moved

    def body(self) -> dict[str, Any]:
        return {"result": self.result, "counts": self.counts, "conflicts": self.conflicts, "warnings": self.warnings}


def indicator_rule(i: IndicatorRow) -> IndicatorRule:
    return IndicatorRule(code=i.code, name_zh=i.name_zh, unit=i.unit, measure=i.measure, level=i.level,
                         frequency=PeriodType(i.frequency), low=i.min_value, high=i.max_value)


_RULES: tuple["weakref.ref[Catalog]", dict[str, IndicatorRule]] | None = None


def rules_of(catalog: Catalog) -> dict[str, IndicatorRule]:
    """The row checks' view of every indicator, made once per catalog snapshot (the last one's kept)."""
    global _RULES
    kept = _RULES
    if kept is not None and kept[0]() is catalog:
        return kept[1]
    found = {code: indicator_rule(i) for code, i in catalog.indicators.items()}
    _RULES = (weakref.ref(catalog), found)
    return found


def resolve_unit(catalog: Catalog, raw: Any) -> UnitRef | UnitProblem | None:
    if raw is None or isinstance(raw, bool) or not isinstance(raw, str | int):
        return None
    found = catalog.resolve_unit(str(raw))
    if found is None:
        return None
    if found.code in catalog.retired:
        return UnitProblem(Code.RETIRED_UNIT, catalog.retired_message(catalog.retired[found.code]))
    u = catalog.units[found.code]
    return UnitRef(code=u.code, name=u.name, is_city=u.code == CITY)


def authorise(catalog: Catalog, caller: Principal, units: Sequence[UnitRef | UnitProblem | None]) -> None:
    """A district key writes only its own subtree: one foreign unit refuses the whole request."""
    if caller.role == Role.ADMIN:
        return
    allowed = catalog.subtree(caller.unit_code or "")
    foreign = sorted({u.code for u in units if isinstance(u, UnitRef) and u.code not in allowed})
    if foreign:
        own = catalog.units.get(caller.unit_code or "")
        names = ", ".join(f"{c} ({catalog.units[c].name})" for c in foreign[:5])
        raise Forbidden(
            _("This key writes only for {unit} ({name}) and the units under it; the request names {names}. "
              "Nothing was stored.", unit=caller.unit_code, name=own.name if own else "?", names=names),
            foreign_units=foreign,
        )


def metric_unit(catalog: Catalog, code: str | None) -> str:
    """The city or district a unit belongs to: counters are labelled by those only (bounded)."""
    if code is None or code not in catalog.units:
        return "unknown"
    chain = [code, *catalog.ancestors(code)]
    return chain[-2] if len(chain) >= 2 else chain[-1]


class Replay(Exception):  # noqa: N818 — an answer, not a failure
    """The request was answered before under its Idempotency-Key: here is that answer."""

    def __init__(self, answer: write.Answer) -> None:
        super().__init__("replay")
        self.answer = answer


class StaleCatalog(Exception):  # noqa: N818
    """The catalog changed since the snapshot the rows were checked against: check them again."""

    def __init__(self, version: tuple[Any, ...]) -> None:
        super().__init__("stale catalog")
        self.version = version


Render = Callable[[Outcome], write.Answer]


async def submit(
    session: AsyncSession,
    catalogs: CatalogCache,
    caller: Principal,
    rows: Sequence[RawRow],
    *,
    dry_run: bool,
    atomic: bool,
    today: date,
    now: datetime,
    request_id: str | None,
    client_request_id: str | None = None,
    receipt: write.Receipt | None = None,
    render: Render | None = None,
    ttl: timedelta = timedelta(hours=24),
) -> tuple[Outcome, write.Answer | None]:
    """Validate, store, leave: check the rows against the catalog, take the write's locks, read what the checks need
    in one statement, write the values, their revisions, the dirty cells and the kept answer in one more. Raises
    Forbidden before looking at any row if a foreign unit is named, Replay for a kept answer, write.Busy while the
    same Idempotency-Key is in flight."""
    kept = catalogs.peek()
    if kept is None or not is_postgres(session):
        # SQLite's write takes no statement of locks to carry the version: it is read here.
        catalog = await catalogs.snapshot(session)
        kept = catalogs.peek()
    version, catalog = kept if kept is not None else (None, catalog)
    for _attempt in range(3):
        try:
            return await _submit(session, catalogs, catalog, caller, rows, dry_run=dry_run, atomic=atomic,
                                 today=today, now=now, author=Author.of(caller, request_id=request_id,
                                                                          client_request_id=client_request_id),
                                 receipt=receipt, render=render, ttl=ttl, version=version)
        except StaleCatalog as stale:
            version, catalog = stale.version, await catalogs.at(session, stale.version)
    raise ServiceUnavailable(_("The catalog kept changing during this submission; send it again."))


async def _submit(session: AsyncSession, catalogs: CatalogCache, catalog: Catalog, caller: Principal,
                  rows: Sequence[RawRow], *, dry_run: bool, atomic: bool, today: date, now: datetime, author: Author,
                  receipt: write.Receipt | None, render: Render | None, ttl: timedelta,
                  version: tuple[Any, ...] | None) -> tuple[Outcome, write.Answer | None]:
    # Validate: everything Python can decide before the database is asked anything.
    units = [resolve_unit(catalog, r.unit) for r in rows]
    authorise(catalog, caller, units)
    rules = rules_of(catalog)
    checked = [check_row(r, indicators=rules, unit=u, today=today) for r, u in zip(rows, units, strict=True)]
    clean = [c for c in checked if isinstance(c, Clean)]
    conflicts = [c for c in checked if isinstance(c, Conflict)]
    clean, dupes = reject_duplicates(clean)
    conflicts = [*conflicts, *dupes]
    flows = frozenset(code for code, r in rules.items() if r.measure == "flow")

    # Lock, then read once.
    cells = {(r.indicator, r.unit, r.period.year) for r in clean}
    plan = write.Plan(
        cells=set() if dry_run else cells,
        datasets=datasets(catalog, {(u, y) for _, u, y in cells}),  # a dry run reads them, unlocked
        held=set() if dry_run else lock_keys(catalog, {(u, y) for _, u, y in cells}),
        flows={(r.indicator, r.unit) for r in clean if r.indicator in flows},
        before=set(cells) if dry_run else {(i, u, y - 1) for i, u, y in cells},
        groups=set() if dry_run else {(i, catalog.parents.get(u), y) for i, u, y in cells
                                      if catalog.parents.get(u) is not None},
    )
    if dry_run:
        current = await write.hold(session, write.Plan(cells=set(), datasets=set()), receipt)
    else:
        current = await write.hold(session, plan, receipt)
    if current is not None and current != version:
        raise StaleCatalog(current)
    seen = await write.read(session, plan, receipt, ttl=ttl, now=now)
    if seen.answer is not None:
        assert receipt is not None
        if seen.answer.fingerprint != receipt.fingerprint:
            raise Unprocessable(_("This Idempotency-Key was used with a different request; use a new key."))
        raise Replay(seen.answer)

    clean, overlapping = reject_overlaps(clean, flow_indicators=flows, stored=seen.periods)
    before = {k: v.stored for k, v in seen.stored.items()}
    changed = [r for r in clean if not (r.key in before and before[r.key].same_as(r))]
    # Review lock: a change inside an approved dataset is a `locked` conflict (an identical resend is not); read
    # under the datasets' locks taken above.
    changed, locked = split_locked(catalog, changed, seen.approved)
    if locked or overlapping:
        refused = {c.index for c in (*locked, *overlapping)}
        clean = [r for r in clean if r.index not in refused]
    conflicts = sorted([*conflicts, *overlapping, *locked], key=lambda c: c.index)
    counts = _counts(clean, changed, before, conflicts)
    listed = [c.as_dict() for c in conflicts]
    if atomic and conflicts or not clean or dry_run:
        if dry_run and not (atomic and conflicts) and clean:
            outcome = Outcome(200, "dry_run", counts, listed)
        else:
            if atomic and conflicts:
                counts = {"created": 0, "updated": 0, "unchanged": 0, "rejected": len(rows)}
            outcome = Outcome(422, "rejected", counts, listed, _tally(catalog, rows, units, [], len(rows)))
        return outcome, await _keep_answer(session, outcome, render, receipt, now)

    moved = {(r.indicator, r.unit, r.period.year) for r in changed}
    tallies = _tally(catalog, rows, units, clean, 0, changed=changed, before=before, conflicts=conflicts)
    found = warnings(catalog, changed, seen, clean) if changed else []
    outcome = Outcome(200, "partial" if conflicts else "success", counts, listed, tallies, found, moved)
    if before_commit is not None:
        await before_commit()
    answer = render(outcome) if render is not None and receipt is not None else None
    change = write.Change(values=[_value(r, flows) for r in changed],
                          revisions=measurements.revisions(changed, before), cells=moved,
                          flows=any(r.indicator in flows for r in changed))
    try:
        await write.store(session, change, by=author, stamp=max(utcnow(), now), now=now, receipt=receipt,
                          answer=answer)
    except measurements.PeriodsOverlap:
        # A concurrent write stored an overlapping flow period first; the whole check runs again and finds it.
        return await _submit(session, catalogs, catalog, caller, rows, dry_run=dry_run, atomic=atomic,
                             today=today, now=now, author=author, receipt=receipt, render=render, ttl=ttl,
                             version=version)
    return outcome, answer


async def _keep_answer(session: AsyncSession, outcome: Outcome, render: Render | None,
                       receipt: write.Receipt | None, now: datetime) -> write.Answer | None:
    if render is None or receipt is None:
        return None
    answer = render(outcome)
    nobody = Author(key_id=None, key_name="", request_id=None)
    await write.store(session, write.Change([], [], set(), False), by=nobody, stamp=now, now=now, receipt=receipt,
                      answer=answer)
    return answer


def _value(r: Clean, flows: frozenset[str]) -> dict[str, Any]:
    p = r.period
    return {"indicator_code": r.indicator, "unit_code": r.unit, "period": p.label, "period_type": p.type.value,
            "period_start": p.start, "period_end": p.end, "year": p.year, "value": r.value,
            "numerator": r.numerator, "denominator": r.denominator, "comment": r.comment,
            "is_flow": r.indicator in flows}


def warnings(catalog: Catalog, changed: Sequence[Clean], seen: write.Seen, written: Sequence[Clean]
             ) -> list[dict[str, Any]]:
    """The POST answer's warnings: the roll-up's rules (domain.quality) on the own yearly value each changed row
    leaves, against the unit's year before and its siblings' kept own values (those this write names, as it
    leaves them)."""
    cells = {(r.indicator, r.unit, r.period.year) for r in written}
    own = own_values(catalog, seen.stored, cells | {(i, u, y - 1) for i, u, y in cells}, written)
    # The written units' own values summed per sibling group (each unit's own is taken out again below).
    named: dict[tuple[str, str | None, int], tuple[int, float, float]] = {}
    for (i, u, y), value in own.items():
        if (i, u, y) in cells and value is not None:
            group = (i, catalog.parents.get(u), y)
            c, t, q = named.get(group, (0, 0, 0.0))
            named[group] = (c + 1, t + value, q + value * value)
    out: list[dict[str, Any]] = []
    for r in changed:
        cell = (r.indicator, r.unit, r.period.year)
        current = own.get(cell)
        if current is None:
            continue
        info = catalog.indicators[r.indicator]
        parent = catalog.parents.get(r.unit)
        group = (r.indicator, parent, r.period.year)
        count, total, squares = seen.peers.get(group, (0, 0.0, 0.0))
        c, t, q = named.get(group, (0, 0.0, 0.0))
        count, total, squares = count + c - 1, total + t - current, squares + q - current * current
        found = [quality_rules.yoy(rate=info.measure == "rate", previous=own.get((cell[0], cell[1], cell[2] - 1)),
                                   current=current, max_change=info.max_yoy_change, max_points=info.max_yoy_points)]
        if parent is not None:
            found.append(quality_rules.peers_of_sums(current=current, count=count, total=total, squares=squares))
        out.extend({"index": r.index, "code": f.code, "detail": render_text(f.detail)} for f in found if f)
    return out


def own_values(catalog: Catalog, stored: dict[Key, measurements.CellValue], cells: set[Cell],
               written: Sequence[Clean]) -> dict[Cell, float | None]:
    """The own yearly value of each cell once this write is stored: its stored periods with the write's in place."""
    periods: dict[Cell, dict[Key, Observation]] = {c: {} for c in cells}
    for key, found in stored.items():
        cell = (key[0], key[1], found.period.year)
        if cell in periods and not found.stored.deleted and found.stored.value is not None:
            periods[cell][key] = Observation(found.period, found.stored.value, found.stored.numerator,
                                             found.stored.denominator)
    for r in written:
        cell = (r.indicator, r.unit, r.period.year)
        if cell in periods:
            periods[cell][r.key] = Observation(r.period, r.value, r.numerator, r.denominator)
    out: dict[Cell, float | None] = {}
    for cell, found_periods in periods.items():
        value = own_yearly(measure=Measure(catalog.indicators[cell[0]].measure),
                           observations=found_periods.values()).get(cell[2]) if found_periods else None
        out[cell] = value.value if value is not None else None
    return out


# Tests only: awaited after a write's checks, before its last statement — to hold a write in flight on purpose.
before_commit: Callable[[], Awaitable[None]] | None = None


def _counts(clean: Sequence[Clean], changed: Sequence[Clean], before: dict[measurements.Key, measurements.Stored],
            conflicts: Sequence[Conflict]) -> dict[str, int]:
    created = sum(1 for r in changed if r.key not in before or before[r.key].deleted)
    return {"created": created, "updated": len(changed) - created, "unchanged": len(clean) - len(changed),
            "rejected": len(conflicts)}


def _tally(
    catalog: Catalog,
    rows: Sequence[RawRow],
    units: Sequence[UnitRef | UnitProblem | None],
    clean: Sequence[Clean],
    all_rejected: int,
    *,
    changed: Sequence[Clean] = (),
    before: dict[measurements.Key, measurements.Stored] | None = None,
    conflicts: Sequence[Conflict] = (),
) -> Counter[tuple[str, str]]:
    out: Counter[tuple[str, str]] = Counter()
    if all_rejected:
        for u in units:
            out[(metric_unit(catalog, u.code if isinstance(u, UnitRef) else None), "rejected")] += 1
        return out
    changed_keys = {r.key for r in changed}
    for r in clean:
        if r.key not in changed_keys:
            outcome = "unchanged"
        elif before is not None and r.key in before and not before[r.key].deleted:
            outcome = "updated"
        else:
            outcome = "created"
        out[(metric_unit(catalog, r.unit), outcome)] += 1
    for c in conflicts:
        u = units[c.index]
        out[(metric_unit(catalog, u.code if isinstance(u, UnitRef) else None), "rejected")] += 1
    return out
