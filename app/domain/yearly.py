"""Yearly values A(u, y): one value per unit and calendar year, own or aggregated from child units."""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
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
            )
    return result


def aggregate(*, measure: Measure, year: int, children: Sequence[YearValue], total: int) -> YearValue | None:
    """Combine the direct children's values for one year into the parent's value, or None."""
    if measure is Measure.RATE:
        used = [c for c in children if c.numerator is not None and c.denominator is not None]
    else:
        used = list(children)
    if not used:
        return None
    numerator: float | None = None
    denominator: float | None = None
    if measure is Measure.RATE:
        numerator = sum(c.numerator for c in used if c.numerator is not None)
        denominator = sum(c.denominator for c in used if c.denominator is not None)
        if denominator == 0:
            return None
        # Pooled rate: districts weigh by their size, never the mean of their percentages.
        value = numerator / denominator * 100
    else:
        value = sum(c.value for c in used)
    latest = max(used, key=lambda c: c.period_end)
    return YearValue(
        year=year,
        value=value,
        numerator=numerator,
        denominator=denominator,
        period=latest.period,
        period_end=latest.period_end,
        own=False,
        reported=len(used),
        total=total,
    )


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
