"""The district submission use case: resolve, authorise, check, classify, write — set-based throughout."""

from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.db import locks, measurements, rollup
from app.db.types import utcnow
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
from app.errors import Forbidden
from app.i18n import _
from app.services import quality
from app.services.locking import refuse_locked


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


async def submit(
    session: AsyncSession,
    catalog: Catalog,
    caller: Principal,
    rows: Sequence[RawRow],
    *,
    dry_run: bool,
    atomic: bool,
    today: date,
    now: datetime,
    request_id: str | None,
    client_request_id: str | None = None,
) -> Outcome:
    """Run one submission; raises Forbidden before looking at any row if a foreign unit is named."""
    units = [resolve_unit(catalog, r.unit) for r in rows]
    authorise(catalog, caller, units)
    rules = {code: indicator_rule(i) for code, i in catalog.indicators.items()}
    checked = [check_row(r, indicators=rules, unit=u, today=today) for r, u in zip(rows, units, strict=True)]
    clean = [c for c in checked if isinstance(c, Clean)]
    conflicts = [c for c in checked if isinstance(c, Conflict)]
    clean, dupes = reject_duplicates(clean)
    flows = frozenset(code for code, r in rules.items() if r.measure == "flow")
    pairs = {(r.indicator, r.unit) for r in clean if r.indicator in flows}
    stored = await measurements.stored_periods(session, pairs) if pairs else []
    clean, overlapping = reject_overlaps(clean, flow_indicators=flows, stored=stored)
    conflicts = sorted([*conflicts, *dupes, *overlapping], key=lambda c: c.index)

    cells = {(r.indicator, r.unit, r.period.year) for r in clean}
    if dry_run:
        before = await measurements.current(session, [r.key for r in clean])
    else:
        await locks.for_write(session, cells, datasets(catalog, {(u, y) for _, u, y in cells}))
        before = {k: v.stored for k, v in (await measurements.in_cells(session, cells)).items()}
    changed = [r for r in clean if not (r.key in before and before[r.key].same_as(r))]
    # Review lock: a change inside an approved dataset is a `locked` conflict (an identical resend is not); read
    # under the datasets' locks taken above.
    changed, locked = await refuse_locked(session, catalog, changed)
    if locked:
        refused = {c.index for c in locked}
        clean = [r for r in clean if r.index not in refused]
        conflicts = sorted([*conflicts, *locked], key=lambda c: c.index)
    if atomic and conflicts or not clean or dry_run:
        counts = _counts(clean, changed, before, conflicts)
        listed = [c.as_dict() for c in conflicts]
        if dry_run and not (atomic and conflicts) and clean:
            return Outcome(200, "dry_run", counts, listed)
        if atomic and conflicts:
            counts = {"created": 0, "updated": 0, "unchanged": 0, "rejected": len(rows)}
        return Outcome(422, "rejected", counts, listed, _tally(catalog, rows, units, [], len(rows)))

    for _attempt in range(_WRITE_ATTEMPTS):
        try:
            await measurements.write(session, changed, flows=flows, now=now)
            break
        except measurements.PeriodsOverlap:
            # A concurrent submission stored an overlapping flow period first: it is now visible, so the same
            # check as above finds it and refuses these rows as `period_overlap`.
            pairs = {(r.indicator, r.unit) for r in changed if r.indicator in flows}
            changed, raced = reject_overlaps(changed, flow_indicators=flows,
                                             stored=await measurements.stored_periods(session, pairs))
            if raced and atomic:
                counts = {"created": 0, "updated": 0, "unchanged": 0, "rejected": len(rows)}
                refused_rows = sorted([*conflicts, *raced], key=lambda c: c.index)
                return Outcome(422, "rejected", counts, [c.as_dict() for c in refused_rows],
                               _tally(catalog, rows, units, [], len(rows)))
            lost = {c.index for c in raced}
            clean = [r for r in clean if r.index not in lost]
            conflicts = sorted([*conflicts, *raced], key=lambda c: c.index)
    else:
        raise measurements.PeriodsOverlap("flow periods kept overlapping concurrent submissions")
    counts = _counts(clean, changed, before, conflicts)
    listed = [c.as_dict() for c in conflicts]
    if not clean:
        return Outcome(422, "rejected", counts, listed, _tally(catalog, rows, units, [], len(rows)))
    by = Author.of(caller, request_id=request_id, client_request_id=client_request_id)
    moved = {(r.indicator, r.unit, r.period.year) for r in changed}
    if before_commit is not None:
        await before_commit()
    await keep(session, measurements.revisions(changed, before), moved, by=by, now=now)
    tallies = _tally(catalog, rows, units, clean, 0, changed=changed, before=before, conflicts=conflicts)
    # On the values as this write leaves them: the same rule, on the same own values, as the roll-up's flags.
    found = await quality.warnings(session, catalog, changed) if changed else []
    return Outcome(200, "partial" if conflicts else "success", counts, listed, tallies, found, moved)


_WRITE_ATTEMPTS = 5
# Tests only: awaited after a write's checks, before its last statement — to hold a write in flight on purpose.
before_commit: Callable[[], Awaitable[None]] | None = None
Cell = tuple[str, str, int]  # indicator, unit, year


def _counts(clean: Sequence[Clean], changed: Sequence[Clean], before: dict[measurements.Key, measurements.Stored],
            conflicts: Sequence[Conflict]) -> dict[str, int]:
    created = sum(1 for r in changed if r.key not in before or before[r.key].deleted)
    return {"created": created, "updated": len(changed) - created, "unchanged": len(clean) - len(changed),
            "rejected": len(conflicts)}


def datasets(catalog: Catalog, pairs: set[tuple[str, int]]) -> set[tuple[str, int]]:
    """The datasets a write of these (unit, year)s falls in: each unit's own and its ancestors'."""
    return {(u, year) for unit, year in pairs for u in (unit, *catalog.ancestors(unit))}


async def keep(session: AsyncSession, revisions: Sequence[dict[str, Any]], cells: set[Cell], *, by: Author,
               now: datetime) -> None:
    """A write's last statement: the value revisions and the dirty marks of the cells it changed, stamped once
    every lock is held (so stamps follow the order in which conflicting writes commit). The kept rows above are
    the roll-up's."""
    stamp = max(utcnow(), now)
    await measurements.record(session, revisions, by=by, recorded_at=stamp)
    await rollup.mark(session, cells, stamp=stamp)


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
