"""Yearly values A(u, y): one value per unit and calendar year, own or aggregated from child units."""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from app.domain.periods import Period, PeriodType, fineness


class Measure(StrEnum):
    RATE = "rate"
    STOCK = "stock"
    FLOW = "flow"


@dataclass(frozen=True, slots=True)
class Observation:
    period: Period
    value: float
    numerator: float | None = None
    denominator: float | None = None


@dataclass(frozen=True, slots=True)
class YearValue:
    year: int
    value: float
    numerator: float | None
    denominator: float | None
    period: str
    period_end: date
    own: bool
    reported: int = 0
    total: int = 0  # expected direct children (docs/ATTAINMENT.md "Completeness")
    covers: bool = True  # own values cover the whole year (always, for a stock or a rate)
    complete: bool = True  # set by app.domain.completeness from the unit tree and the indicator's reporters
    # Where the chosen period starts: ties between periods ending the same day (not part of the value).
    period_start: date | None = field(default=None, compare=False)


def _latest_key(period: Period) -> tuple[date, int, int]:
    # Latest end first; on a tie the coarsest period, i.e. the one that starts earliest.
    return period.end, fineness(period.type), -period.start.toordinal()


_WHOLE_YEAR = {PeriodType.QUARTER: 4, PeriodType.SEMESTER: 2, PeriodType.MONTH: 12}


def flow_covers(periods: Iterable[Period]) -> bool:
    """Whether a flow's periods of one year cover it: the year itself, or all its quarters, halves or months."""
    kinds: dict[PeriodType, set[str]] = {}
    for p in periods:
        if p.type is PeriodType.YEAR:
            return True
        kinds.setdefault(p.type, set()).add(p.label)
    return any(len(kinds.get(t, ())) >= n for t, n in _WHOLE_YEAR.items())


def own_yearly(*, measure: Measure, observations: Iterable[Observation]) -> dict[int, YearValue]:
    """A unit's own yearly values from its observations, one per calendar year."""
    by_year: dict[int, list[Observation]] = {}
    for obs in observations:
        by_year.setdefault(obs.period.year, []).append(obs)
    result: dict[int, YearValue] = {}
    for year, group in by_year.items():
        latest = group[0] if len(group) == 1 else max(group, key=lambda o: _latest_key(o.period))
        if measure is Measure.FLOW:
            # Flow periods of one unit never overlap (ingestion refuses it), so the sum counts nothing twice.
            result[year] = YearValue(
                year=year,
                value=sum(o.value for o in group),
                numerator=None,
                denominator=None,
                period=latest.period.label,
                period_end=latest.period.end,
                own=True,
                period_start=latest.period.start,
                covers=flow_covers(o.period for o in group),
            )
        else:
            result[year] = YearValue(
                year=year,
                value=latest.value,
                numerator=latest.numerator,
                denominator=latest.denominator,
                period=latest.period.label,
                period_end=latest.period.end,
                own=True,
                period_start=latest.period.start,
            )
    return result


@dataclass(frozen=True, slots=True)
class Sums:
    """What a parent keeps of its direct children's yearly values: the sums its aggregate is made of, how many
    children count, and the latest-ending child period. Children's changes are applied to it as differences."""

    value: float = 0.0
    numerator: float = 0.0
    denominator: float = 0.0
    count: int = 0
    period: str | None = None
    period_start: date | None = None
    period_end: date | None = None

    def plus(self, other: "Sums", sign: int = 1) -> "Sums":
        """These sums with another's added (sign 1) or taken away (sign -1); the period is settled by the caller."""
        count = self.count + sign * other.count
        if count == 0:
            # Nothing left: exact zeros, so no rounding residue of float additions survives.
            return Sums()
        return Sums(self.value + sign * other.value, self.numerator + sign * other.numerator,
                    self.denominator + sign * other.denominator, count, self.period, self.period_start,
                    self.period_end)


def period_key(period: str | None, start: date | None, end: date | None) -> tuple[date, int, str]:
    """Order of children's periods for a parent's period: latest end, then earliest start (coarsest), then label."""
    if period is None or end is None:
        return (date.min, 0, "")
    return (end, -(start or end).toordinal(), period)


def share(measure: Measure, child: YearValue | None) -> Sums:
    """What one child's yearly value adds to its parent's sums: a rate counts only with its fraction."""
    if child is None:
        return Sums()
    start = child.period_start or child.period_end
    if measure is Measure.RATE:
        if child.numerator is None or child.denominator is None:
            return Sums()
        return Sums(0.0, child.numerator, child.denominator, 1, child.period, start, child.period_end)
    return Sums(child.value, 0.0, 0.0, 1, child.period, start, child.period_end)


def latest_share(shares: Iterable[Sums]) -> Sums | None:
    """The share whose period a parent shows (period_key order)."""
    counted = [s for s in shares if s.count]
    return max(counted, key=lambda s: period_key(s.period, s.period_start, s.period_end)) if counted else None


def total_of(shares: Iterable[Sums]) -> Sums:
    """The sums of the given children's shares (in any order: the period is chosen by period_key)."""
    listed = list(shares)
    out = Sums()
    for s in listed:
        out = out.plus(s)
    latest = latest_share(listed)
    if latest is None:
        return Sums()
    return Sums(out.value, out.numerator, out.denominator, out.count, latest.period, latest.period_start,
                latest.period_end)


def from_sums(*, measure: Measure, year: int, sums: Sums, total: int) -> YearValue | None:
    """A parent's aggregated yearly value from its children's sums, or None."""
    if sums.count == 0 or sums.period is None or sums.period_end is None:
        return None
    numerator: float | None = None
    denominator: float | None = None
    if measure is Measure.RATE:
        numerator, denominator = sums.numerator, sums.denominator
        if denominator == 0:
            return None
        # Pooled rate: districts weigh by their size, never the mean of their percentages.
        value = numerator / denominator * 100
    else:
        value = sums.value
    return YearValue(year=year, value=value, numerator=numerator, denominator=denominator, period=sums.period,
                     period_end=sums.period_end, own=False, reported=sums.count, total=total,
                     period_start=sums.period_start)


def effective(*, measure: Measure, year: int, own: YearValue | None, sums: Sums, total: int) -> YearValue | None:
    """A(u, y): the unit's own value wins; otherwise its children's aggregate."""
    if own is not None:
        return own
    return from_sums(measure=measure, year=year, sums=sums, total=total)


def aggregate(*, measure: Measure, year: int, children: Sequence[YearValue], total: int) -> YearValue | None:
    """Combine the direct children's values for one year into the parent's value, or None."""
    return from_sums(measure=measure, year=year, sums=total_of(share(measure, c) for c in children), total=total)


def _subtree_postorder(children: Mapping[str, Sequence[str]], root: str) -> list[str]:
    # Iterative depth-first walk; children come out before their parent. A unit met twice is skipped,
    # so a malformed tree with a cycle cannot loop.
    order: list[str] = []
    seen = {root}
    stack: list[tuple[str, bool]] = [(root, False)]
    while stack:
        unit, expanded = stack.pop()
        if expanded:
            order.append(unit)
            continue
        stack.append((unit, True))
        for child in children.get(unit, ()):
            if child not in seen:
                seen.add(child)
                stack.append((child, False))
    return order


def rollup(
    *,
    measure: Measure,
    children: Mapping[str, Sequence[str]],
    own: Mapping[str, Mapping[int, YearValue]],
    root: str,
) -> dict[str, dict[int, YearValue]]:
    """Effective yearly values for every unit under root: own values win, else children are aggregated."""
    effective: dict[str, dict[int, YearValue]] = {}
    for unit in _subtree_postorder(children, root):
        kids = list(dict.fromkeys(children.get(unit, ())))
        series: dict[int, YearValue] = dict(own.get(unit, {}))
        by_year: dict[int, list[YearValue]] = {}
        for kid in kids:
            for year, value in effective.get(kid, {}).items():
                if year not in series:
                    by_year.setdefault(year, []).append(value)
        for year, values in by_year.items():
            combined = aggregate(measure=measure, year=year, children=values, total=len(kids))
            if combined is not None:
                series[year] = combined
        if series:
            effective[unit] = dict(sorted(series.items()))
    return effective
