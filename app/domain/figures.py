"""The figures of docs/ATTAINMENT.md: met, progress/pace shares, attainment ratio, projection and trend."""

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Bounds:
    low: float | None
    high: float | None


def meets(value: float, op: str, target: float) -> bool:
    return value >= target if op == ">=" else value <= target


def finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def share(x: float | None, *, baseline: float | None, target: float, op: str, actual_met: bool) -> float | None:
    """(x − B) / (T − B); when B already meets T, 1 if A meets T else 0 (this also covers T = B)."""
    if x is None or baseline is None:
        return None
    if meets(baseline, op, target):
        return 1.0 if actual_met else 0.0
    return finite((x - baseline) / (target - baseline))


def ratio(actual: float | None, *, target: float, op: str, progress: float | None) -> float | None:
    if actual is None:
        return None
    if op == ">=":
        # A / T means nothing for T ≤ 0; progress is the same fallback the rules give "<=" with T = 0.
        return finite(actual / target) if target > 0 else progress
    if target > 0:
        return 1.0 if actual == 0 else finite(target / actual)
    return progress


def _fit(points: Sequence[tuple[int, float]]) -> tuple[float, float, float]:
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    sxx = sum((x - mean_x) ** 2 for x, _ in points)
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in points)
    return mean_x, mean_y, sxy / sxx  # sxx > 0: the years are distinct


def projection(points: Sequence[tuple[int, float]], *, year: int, bounds: Bounds) -> float | None:
    """Least-squares line through the points at `year`, clamped to the bounds; None for fewer than 2."""
    if len(points) < 2:
        return None
    mean_x, mean_y, slope = _fit(points)
    value = mean_y + slope * (year - mean_x)
    if bounds.low is not None:
        value = max(value, bounds.low)
    if bounds.high is not None:
        value = min(value, bounds.high)
    return finite(value)


TREND_SHARE = 0.01  # a slope under 1% of the distance to cover per year is flat


def trend(points: Sequence[tuple[int, float]], *, op: str, target: float, baseline: float | None) -> str | None:
    """`improving`, `worsening` or `flat`: the slope in the target's direction against 1% of
    max(|T − B|, |T|, 1); None for fewer than 2 points. It never changes a status."""
    if len(points) < 2:
        return None
    slope = _fit(points)[2]
    toward = slope if op == ">=" else -slope
    scale = max(abs(target - baseline) if baseline is not None else 0.0, abs(target), 1.0)
    if not math.isfinite(toward) or abs(toward) <= TREND_SHARE * scale:
        return "flat"
    return "improving" if toward > 0 else "worsening"
