"""Judging a target against a unit's yearly values: the figures and the status of docs/ATTAINMENT.md."""

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from app.domain.yearly import YearValue


class Status(StrEnum):
    MISSED = "missed"
    OFF_TRACK = "off_track"
    NO_DATA = "no_data"
    INSUFFICIENT_DATA = "insufficient_data"
    AT_RISK = "at_risk"
    ON_TRACK = "on_track"
    ACHIEVED = "achieved"


SEVERITY: tuple[Status, ...] = tuple(Status)  # declaration order is worst first
_RANK = {status: rank for rank, status in enumerate(SEVERITY)}


def most_severe(statuses: Iterable[Status]) -> Status:
    """The worst of the given statuses; no_data when there are none."""
    return min(statuses, key=_RANK.__getitem__, default=Status.NO_DATA)


class Kind(StrEnum):
    REACH = "reach"
    EVERY_YEAR = "every_year"
    EACH_UNIT = "each_unit"


@dataclass(frozen=True, slots=True)
class TargetSpec:
    kind: Kind
    op: str
    value: float
    year: int | None
    year_from: int | None = None
    baseline_value: float | None = None
    baseline_year: int | None = None

    def __post_init__(self) -> None:
        if self.op not in (">=", "<="):
            raise ValueError(f"op must be '>=' or '<=', not {self.op!r}")


@dataclass(frozen=True, slots=True)
class Bounds:
    low: float | None
    high: float | None


@dataclass(frozen=True, slots=True)
class YearDetail:
    year: int
    value: float | None
    met: bool | None
    missing: bool
    pending: bool


@dataclass(frozen=True, slots=True)
class Judgement:
    status: Status
    met: bool | None
    actual: float | None
    actual_year: int | None
    actual_period: str | None
    baseline: float | None
    baseline_year: int | None
    projection: float | None
    pace: float | None
    progress: float | None
    attainment_ratio: float | None
    deadline_passed: bool
    years: tuple[YearDetail, ...] = ()
    units_met: int | None = None
    units_total: int | None = None
    reported: int = 0
    total: int = 0


DEFAULT_YEAR_FROM = 2019  # the year the plan was issued
ON_TRACK_PACE = 0.95
AT_RISK_PACE = 0.6


def _meets(value: float, op: str, target: float) -> bool:
    return value >= target if op == ">=" else value <= target


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def _share(x: float | None, *, baseline: float | None, target: float, op: str, actual_met: bool) -> float | None:
    """(x − B) / (T − B); when B already meets T, 1 if A meets T else 0 (this also covers T = B)."""
    if x is None or baseline is None:
        return None
    if _meets(baseline, op, target):
        return 1.0 if actual_met else 0.0
    return _finite((x - baseline) / (target - baseline))


def _ratio(actual: float | None, *, target: float, op: str, progress: float | None) -> float | None:
    if actual is None:
        return None
    if op == ">=":
        # A / T means nothing for T ≤ 0; progress is the same fallback the rules give "<=" with T = 0.
        return _finite(actual / target) if target > 0 else progress
    if target > 0:
        return 1.0 if actual == 0 else _finite(target / actual)
    return progress


def _projection(points: Sequence[tuple[int, float]], *, year: int, bounds: Bounds) -> float | None:
    if len(points) < 2:
        return None
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    sxx = sum((x - mean_x) ** 2 for x, _ in points)
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in points)
    value = mean_y + sxy / sxx * (year - mean_x)  # sxx > 0: the years are distinct
    if bounds.low is not None:
        value = max(value, bounds.low)
    if bounds.high is not None:
        value = min(value, bounds.high)
    return _finite(value)


def _visible(series: Mapping[int, YearValue], on: date) -> dict[int, YearValue]:
    # The caller filters already; this keeps a stray later period or a NaN from reaching the figures.
    return {
        year: value for year, value in sorted(series.items()) if value.period_end <= on and math.isfinite(value.value)
    }


def _actual(visible: Mapping[int, YearValue], *, last: int, deadline_passed: bool) -> YearValue | None:
    if deadline_passed:
        return visible.get(last)
    return next((visible[y] for y in sorted(visible, reverse=True) if y <= last), None)


def _baseline(spec: TargetSpec, visible: Mapping[int, YearValue], *, last: int) -> tuple[float | None, int | None]:
    if spec.baseline_value is not None:
        return spec.baseline_value, spec.baseline_year
    earliest = next((v for y, v in visible.items() if y <= last), None)
    return (earliest.value, earliest.year) if earliest is not None else (None, None)


def _passed(year: int, on: date) -> bool:
    # Deadline passed once `on` >= 1 January of year + 1 (compared by year: no date past 9999 is built).
    return on.year > year


def judge(*, spec: TargetSpec, series: Mapping[int, YearValue], on: date, bounds: Bounds) -> Judgement:
    """Judge a reach or every_year target (or an open-ended one) against one unit's yearly series."""
    visible = _visible(series, on)
    if spec.year is None or spec.kind is Kind.EVERY_YEAR:
        return _judge_every_year(spec, visible, on)
    return _judge_reach(spec, spec.year, visible, on, bounds)


def _judge_reach(
    spec: TargetSpec, deadline: int, visible: Mapping[int, YearValue], on: date, bounds: Bounds
) -> Judgement:
    target, op = spec.value, spec.op
    deadline_passed = _passed(deadline, on)
    last = min(on.year, deadline)
    actual = _actual(visible, last=last, deadline_passed=deadline_passed)  # once passed, last is Y
    baseline, baseline_year = _baseline(spec, visible, last=last)
    points = [(y, v.value) for y, v in visible.items() if y <= last]
    projection = _projection(points, year=deadline, bounds=bounds)
    a = actual.value if actual is not None else None
    met = _meets(a, op, target) if a is not None else None
    progress = _share(a, baseline=baseline, target=target, op=op, actual_met=bool(met))
    pace = _share(projection, baseline=baseline, target=target, op=op, actual_met=bool(met))

    if deadline_passed:
        status = Status.NO_DATA if met is None else Status.ACHIEVED if met else Status.MISSED
    elif met is None:
        status = Status.NO_DATA
    elif met:
        status = Status.ACHIEVED
    elif len(points) < 2 or pace is None:
        status = Status.INSUFFICIENT_DATA
    elif pace >= ON_TRACK_PACE:
        status = Status.ON_TRACK
    elif pace >= AT_RISK_PACE:
        status = Status.AT_RISK
    else:
        status = Status.OFF_TRACK
    return Judgement(
        status=status,
        met=met,
        actual=a,
        actual_year=actual.year if actual else None,
        actual_period=actual.period if actual else None,
        baseline=baseline,
        baseline_year=baseline_year,
        projection=projection,
        pace=pace,
        progress=progress,
        attainment_ratio=_ratio(a, target=target, op=op, progress=progress),
        deadline_passed=deadline_passed,
        reported=actual.reported if actual else 0,
        total=actual.total if actual else 0,
    )


def _judge_every_year(spec: TargetSpec, visible: Mapping[int, YearValue], on: date) -> Judgement:
    target, op = spec.value, spec.op
    # Open-ended (长期) targets run through the year being judged and never reach a deadline.
    last = spec.year if spec.year is not None else on.year
    first = spec.year_from if spec.year_from is not None else DEFAULT_YEAR_FROM
    deadline_passed = spec.year is not None and _passed(spec.year, on)
    baseline, baseline_year = _baseline(spec, visible, last=min(on.year, last))

    details: list[YearDetail] = []
    ratios: list[float | None] = []
    for year in range(first, last + 1):
        held = visible.get(year)
        value = held.value if held is not None else None
        if value is not None and _meets(value, op, target):
            details.append(YearDetail(year=year, value=value, met=True, missing=False, pending=False))
        elif not _passed(year, on):
            # A flow still accumulates and a stock can still move: an unfinished year cannot fail yet.
            details.append(YearDetail(year=year, value=value, met=None, missing=False, pending=True))
            continue
        elif value is None:
            details.append(YearDetail(year=year, value=None, met=None, missing=True, pending=False))
            continue
        else:
            details.append(YearDetail(year=year, value=value, met=False, missing=False, pending=False))
        year_met = bool(details[-1].met)
        year_progress = _share(value, baseline=baseline, target=target, op=op, actual_met=year_met)
        ratios.append(_ratio(value, target=target, op=op, progress=year_progress))

    if any(d.met is False for d in details):
        status = Status.MISSED
    elif any(d.missing for d in details):
        status = Status.NO_DATA
    elif deadline_passed:
        status = Status.ACHIEVED  # every window year has ended, and none failed or is missing
    else:
        status = Status.ON_TRACK

    actual = _actual(visible, last=min(on.year, last), deadline_passed=deadline_passed)
    a = actual.value if actual is not None else None
    met = _meets(a, op, target) if a is not None else None
    known = [r for r in ratios if r is not None]
    years_met = sum(1 for d in details if d.met)
    return Judgement(
        status=status,
        met=met,
        actual=a,
        actual_year=actual.year if actual else None,
        actual_period=actual.period if actual else None,
        baseline=baseline,
        baseline_year=baseline_year,
        projection=None,
        pace=None,
        progress=years_met / len(details) if details else None,
        attainment_ratio=min(known) if known else None,
        deadline_passed=deadline_passed,
        years=tuple(details),
        reported=actual.reported if actual else 0,
        total=actual.total if actual else 0,
    )


def judge_each_unit(*, spec: TargetSpec, children: Sequence[Judgement], units_total: int, on: date) -> Judgement:
    """The parent row of an each_unit target, from the reach judgements of its direct children."""
    units_met = sum(1 for c in children if c.status is Status.ACHIEVED)
    deadline_passed = spec.year is not None and _passed(spec.year, on)
    # A direct child the caller did not judge has, by definition, nothing to show.
    statuses = [c.status for c in children] + [Status.NO_DATA] * max(0, units_total - len(children))
    all_met = units_total > 0 and units_met >= units_total
    if all_met:
        status = Status.ACHIEVED
    elif deadline_passed and statuses:
        status = Status.MISSED
    else:
        status = most_severe(statuses)
    share = units_met / units_total if units_total > 0 else None
    return Judgement(
        status=status,
        met=all_met if units_total > 0 else None,
        actual=None,
        actual_year=None,
        actual_period=None,
        baseline=None,
        baseline_year=None,
        projection=None,
        pace=None,
        progress=share,
        attainment_ratio=share,
        deadline_passed=deadline_passed,
        units_met=units_met,
        units_total=units_total,
        reported=sum(1 for c in children if c.actual is not None),
        total=units_total,
    )
