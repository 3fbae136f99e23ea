"""A kept yearly row through time: its state after each stamp, from the stamps of what it is made of.

The roll-up (services.rollup) brings a cell's kept row and its history up to date from a stamp `since` on: a unit's
own value follows its value revisions, a parent's sums follow its children's states, and each distinct stamp that
changes the state gives one kept-row revision carrying that stamp. Every rule is domain.yearly's (own_yearly,
share, total_of, effective); this module only orders them in time.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from app.domain.periods import Period, PeriodType
from app.domain.yearly import (
    Measure,
    Observation,
    Sums,
    YearValue,
    effective,
    own_yearly,
    period_key,
    share,
    total_of,
)


@dataclass(frozen=True, slots=True)
class State:
    """What a kept row holds: the unit's own value, its children's sums and the effective A(u, y)."""

    own: YearValue | None
    sums: Sums
    value: YearValue | None


EMPTY = State(None, Sums(), None)


@dataclass(frozen=True, slots=True)
class Line:
    """A series through time: the state before `since`, then (stamp, state) at each later stamp that changed it."""

    base: State
    changes: tuple[tuple[datetime, State], ...] = ()

    @property
    def last(self) -> State:
        return self.changes[-1][1] if self.changes else self.base


@dataclass(frozen=True, slots=True)
class ValueRevision:
    """One revision of one stored value (a period of the unit), as the roll-up reads it."""

    period: str
    period_type: str
    period_start: date
    period_end: date
    deleted: bool
    value: float | None
    numerator: float | None
    denominator: float | None
    recorded_at: datetime


def own_line(*, measure: Measure, year: int, revisions: Sequence[ValueRevision], since: datetime,
             force: bool = False) -> tuple[YearValue | None, list[tuple[datetime, YearValue | None]]]:
    """A unit's own yearly value before `since` and after each later stamp, from its value revisions (in the order
    they were recorded). With `force`, `since` itself is a stamp too (a rule changed then, not a value)."""
    live: dict[str, Observation] = {}

    def apply(r: ValueRevision) -> None:
        if r.deleted or r.value is None:
            live.pop(r.period, None)
        else:
            live[r.period] = Observation(Period(PeriodType(r.period_type), r.period, r.period_start, r.period_end),
                                         r.value, r.numerator, r.denominator)

    def now() -> YearValue | None:
        return own_yearly(measure=measure, observations=live.values()).get(year) if live else None

    ordered = sorted(revisions, key=lambda r: r.recorded_at)  # stable: equal stamps keep their id order
    k = 0
    while k < len(ordered) and ordered[k].recorded_at < since:
        apply(ordered[k])
        k += 1
    base = now()
    changes: list[tuple[datetime, YearValue | None]] = []
    if force and not (k < len(ordered) and ordered[k].recorded_at == since):
        changes.append((since, base))
    while k < len(ordered):
        stamp = ordered[k].recorded_at
        while k < len(ordered) and ordered[k].recorded_at == stamp:
            apply(ordered[k])
            k += 1
        changes.append((stamp, now()))
    return base, changes


def combine(*, measure: Measure, year: int, total: int, own: tuple[YearValue | None,
            Sequence[tuple[datetime, YearValue | None]]], children: Mapping[str, Line],
            stored: State | None = None) -> Line:
    """A cell's line from its own value's line and its children's lines: at every stamp any of them changed, the
    children's shares summed (domain.yearly.total_of) and A(u, y) decided (domain.yearly.effective). A stamp gives
    a change when the state differs from the one before it — at first, the `stored` state if given (what the
    history says held before these stamps), else the state the inputs make."""
    own_base, own_changes = own
    stamps = sorted({s for s, _ in own_changes} | {s for line in children.values() for s, _ in line.changes})
    current = {unit: line.base.value for unit, line in children.items()}
    own_now = own_base

    def state() -> State:
        sums = total_of(share(measure, v) for v in current.values()) if current else Sums()
        return State(own_now, sums, effective(measure=measure, year=year, own=own_now, sums=sums, total=total))

    base = state()
    by_stamp: dict[datetime, list[tuple[str | None, YearValue | None]]] = {}
    for s, v in own_changes:
        by_stamp.setdefault(s, []).append((None, v))
    for unit, line in children.items():
        for s, st in line.changes:
            by_stamp.setdefault(s, []).append((unit, st.value))
    out: list[tuple[datetime, State]] = []
    previous = stored if stored is not None else base
    for s in stamps:
        for who, v in by_stamp[s]:
            if who is None:
                own_now = v
            else:
                current[who] = v
        now = state()
        if now != previous:
            out.append((s, now))
            previous = now
    return Line(base, tuple(out))


def kept_line(base: State, changes: Iterable[tuple[datetime, State]]) -> Line:
    """A line as stored in kept-row revisions (the state valid before `since`, then each later revision)."""
    return Line(base, tuple(changes))


def _state_at(line: Line, stamp: datetime) -> State:
    found = line.base
    for s, st in line.changes:
        if s > stamp:
            break
        found = st
    return found


def combine_delta(*, measure: Measure, year: int, total: int, own: tuple[YearValue | None,
                  Sequence[tuple[datetime, YearValue | None]]], old: Line,
                  changed: Mapping[str, tuple[Line, Line]]) -> Line | None:
    """`combine` without reading the children that did not change: a parent's old line with each changed child's
    share replaced (old line → new line) at every stamp. None when a child that gave the parent its latest period
    lost it and no changed child gives it still — only reading every child tells the next latest (call combine)."""
    own_base, own_changes = own
    stamps = sorted({s for s, _ in own_changes} | {s for s, _ in old.changes}
                    | {s for pair in changed.values() for line in pair for s, _ in line.changes})
    own_at = dict(own_changes)

    def key(s: Sums) -> tuple[date, int, str]:
        return period_key(s.period, s.period_start, s.period_end)

    def sums_at(stamp: datetime | None) -> Sums | None:
        before = (old.base if stamp is None else _state_at(old, stamp)).sums
        out = before
        latest = key(before) if before.count else None
        still = before.count > 0  # some child still ends on the latest period
        added: list[Sums] = []
        for was, now in changed.values():
            gone = share(measure, (was.base if stamp is None else _state_at(was, stamp)).value)
            came = share(measure, (now.base if stamp is None else _state_at(now, stamp)).value)
            if gone == came:
                continue
            out = out.plus(gone, -1).plus(came)
            if gone.count and key(gone) == latest:
                still = False
            if came.count:
                added.append(came)
        if out.count == 0:
            return Sums()
        if latest is not None and not still:
            if not any(key(a) == latest for a in added):
                return None
            still = True
        best = before if still else None
        for a in added:
            if best is None or key(a) > key(best):
                best = a
        assert best is not None
        return Sums(out.value, out.numerator, out.denominator, out.count, best.period, best.period_start,
                    best.period_end)

    out: list[tuple[datetime, State]] = []
    previous = old.base
    own_now = own_base
    for s in stamps:
        if s in own_at:
            own_now = own_at[s]
        sums = sums_at(s)
        if sums is None:
            return None
        now = State(own_now, sums, effective(measure=measure, year=year, own=own_now, sums=sums, total=total))
        if now != previous:
            out.append((s, now))
            previous = now
    return Line(old.base, tuple(out))
