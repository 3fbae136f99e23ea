"""What judging a target produces: statuses in severity order, target kinds, the target spec and the row."""

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


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
INCOMPLETE = "incomplete"  # the one `reason` the rules name: the judged year is incomplete


def most_severe(statuses: Iterable[Status]) -> Status:
    """The worst of the given statuses; no_data when there are none."""
    return min(statuses, key=_RANK.__getitem__, default=Status.NO_DATA)


class Kind(StrEnum):
    REACH = "reach"
    EVERY_YEAR = "every_year"
    EACH_UNIT = "each_unit"


DEFAULT_YEAR_FROM = 2019  # the year the plan was issued
ON_TRACK_PACE = 0.95
AT_RISK_PACE = 0.6


@dataclass(frozen=True, slots=True)
class TargetSpec:
    kind: Kind
    op: str
    value: float
    year: int | None
    year_from: int | None = None
    baseline_value: float | None = None
    baseline_year: int | None = None
    on_track: float = ON_TRACK_PACE
    at_risk: float = AT_RISK_PACE

    def __post_init__(self) -> None:
        if self.op not in (">=", "<="):
            raise ValueError(f"op must be '>=' or '<=', not {self.op!r}")


@dataclass(frozen=True, slots=True)
class YearDetail:
    year: int
    value: float | None
    met: bool | None
    missing: bool
    pending: bool
    incomplete: bool = False


@dataclass(frozen=True, slots=True)
class Shown:
    """A yearly value shown on a row but not judged: the latest incomplete year after A's."""

    value: float
    year: int
    period: str


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
    total: int = 0  # expected: completeness of the latest year shown, on aggregated values only
    reason: str | None = None
    trend: str | None = None
    partial: Shown | None = None
