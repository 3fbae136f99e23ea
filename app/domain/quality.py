"""Data-quality flags on yearly values A(u, y) (SPEC.md "Quality flags"), never blocking: a jump from the year
before (`outlier_yoy`) and a value far from its siblings' (`outlier_peers`). Rates are in percent."""

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.i18n import Text, _

OUTLIER_YOY = "outlier_yoy"
OUTLIER_PEERS = "outlier_peers"
PEER_SIGMAS = 3.0
MIN_PEERS = 5


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    value: float
    figures: dict[str, Any] = field(default_factory=dict)
    detail: Text = ""


def yoy(*, rate: bool, previous: float | None, current: float, max_change: float, max_points: float
        ) -> Finding | None:
    """A change from the year before beyond the indicator's limit: percentage points for a rate, a fraction of
    the previous value otherwise. Nothing to compare when the year before has no value or a value of 0."""
    if previous is None or previous == 0:
        return None
    if rate:
        points = current - previous
        if abs(points) > max_points:
            return Finding(OUTLIER_YOY, current, {"previous": previous, "change_points": points,
                                                  "max_points": max_points},
                           _("{previous:g}% → {current:g}%: {points:+.1f} points in a year (limit {most:g}).",
                             previous=previous, current=current, points=points, most=max_points))
        return None
    change = (current - previous) / abs(previous)
    if abs(change) > max_change:
        return Finding(OUTLIER_YOY, current, {"previous": previous, "change": change, "max_change": max_change},
                       _("{previous:g} → {current:g}: {change:+.0%} in a year (limit ±{most:.0%}).",
                         previous=previous, current=current, change=change, most=max_change))
    return None


def peers_of_all(values: Mapping[str, float]) -> dict[str, Finding]:
    """`peers` for every unit of one sibling group at once: each left out of its own comparison, in O(n) with
    the leave-one-out sums (a group of hundreds of schools stays cheap)."""
    n = len(values)
    total = sum(values.values())
    squares = sum(v * v for v in values.values())
    out = {}
    for unit, x in values.items():
        found = peers_of_sums(current=x, count=n - 1, total=total - x, squares=squares - x * x)
        if found is not None:
            out[unit] = found
    return out


def peers_of_sums(*, current: float, count: int, total: float, squares: float) -> Finding | None:
    """`peers` from the siblings' count, sum and sum of squares (the unit itself left out): the mean and sample
    variance they make."""
    if count < MIN_PEERS:
        return None
    mean = total / count
    var = max(0.0, (squares - count * mean * mean) / (count - 1))
    # The sums lose a few ulps: siblings that do not vary must give exactly no flag.
    if var <= (1e-9 * max(1.0, abs(mean))) ** 2:
        return None
    return _far(current, mean, math.sqrt(var), count)


def _far(current: float, mean: float, sd: float, count: int) -> Finding | None:
    z = (current - mean) / sd
    if abs(z) > PEER_SIGMAS:
        return Finding(OUTLIER_PEERS, current, {"mean": mean, "sd": sd, "z": z, "siblings": count},
                       _("{current:g} is {z:+.1f} standard deviations from its {count} siblings' mean {mean:g}.",
                         current=current, z=z, count=count, mean=mean))
    return None


def peers(*, current: float, siblings: Sequence[float]) -> Finding | None:
    """More than 3 standard deviations from the mean of the siblings' values (the unit itself left out); at
    least 5 siblings with values, and none when they do not vary."""
    if len(siblings) < MIN_PEERS:
        return None
    mean = statistics.fmean(siblings)
    sd = statistics.stdev(siblings)
    if sd == 0:
        return None
    return _far(current, mean, sd, len(siblings))
