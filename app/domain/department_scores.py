"""The department scorecard (考核, SPEC "Supervision"): components, published weights, rescaling, ranks.

score = 100 × Σ wᵢ·cᵢ / Σ wᵢ over the components cᵢ (each a share 0–1) that have something to count; a component
with nothing to count drops out and the others rescale to 100; no component at all: no score, no rank. Equal
scores (to two decimals) share a rank and the next rank skips (1, 1, 3).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from app.domain.deliverables import on_time_rate
from app.i18n import _

FORMULA = ("score = 100 × Σ(weight × component) / Σ(weight) over the components with something to count; "
           "on_time = done_on_time / (done_on_time + done_after_extension + done_late + overdue) over deliverables "
           "whose effective deadline falls in the year; progress = progress reports on time / due in the year; "
           "instructions = 批示 answered by respond_by / addressed (respond_by in the year, passed or answered); "
           "targets = city target rows of the department's tasks achieved or on_track / rows judged (no_data and "
           "insufficient_data left out); equal scores (2 decimals) share a rank: 1, 1, 3")
WEIGHT_LIMIT = 1000.0
# Target statuses that count as "on track or achieved", and those with nothing to judge.
GOOD_TARGETS = frozenset({"achieved", "on_track"})
UNJUDGED_TARGETS = frozenset({"no_data", "insufficient_data"})


class Component(StrEnum):
    ON_TIME = "on_time"
    PROGRESS = "progress"
    INSTRUCTIONS = "instructions"
    TARGETS = "targets"


@dataclass(frozen=True, slots=True)
class Weights:
    on_time: float = 40.0
    progress: float = 20.0
    instructions: float = 20.0
    targets: float = 20.0

    def of(self, c: Component) -> float:
        return float(getattr(self, c.value))


class BadWeights(ValueError):
    def __init__(self, code: str, message: object) -> None:
        super().__init__(message)
        self.code = code


def check_weights(w: Weights) -> Weights:
    """Weights as published: each 0–1000, not all zero; BadWeights (with a stable code) otherwise."""
    for c in Component:
        v = w.of(c)
        if v < 0:
            raise BadWeights("negative_weight", _("The weight of {component} is negative.", component=c.value))
        if v > WEIGHT_LIMIT:
            raise BadWeights("weight_too_large", _("The weight of {component} is over {limit}.",
                                                   component=c.value, limit=int(WEIGHT_LIMIT)))
    if not any(w.of(c) for c in Component):
        raise BadWeights("weights_all_zero", _("At least one weight must be above zero."))
    return w


@dataclass(frozen=True, slots=True)
class Counts:
    """What is counted of one department for the year, on the judged day."""

    department: str
    deliverables: Mapping[str, int] = field(default_factory=dict)  # by status, deadline in the year
    lights: Mapping[str, int] = field(default_factory=dict)
    days_overdue: int = 0
    progress_on_time: int = 0
    progress_due: int = 0
    instructions_in_time: int = 0
    instructions_addressed: int = 0
    extensions_requested: int = 0
    extensions_approved: int = 0
    targets: Mapping[str, int] = field(default_factory=dict)  # city target rows of its tasks, by status


@dataclass(frozen=True, slots=True)
class Line:
    counts: Counts
    components: dict[Component, float | None]
    score: float | None
    rank: int | None


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def components(c: Counts) -> dict[Component, float | None]:
    """Each component as a share 0–1, or None when it has nothing to count."""
    judged = sum(n for s, n in c.targets.items() if s not in UNJUDGED_TARGETS)
    good = sum(n for s, n in c.targets.items() if s in GOOD_TARGETS)
    return {
        Component.ON_TIME: on_time_rate(c.deliverables),
        Component.PROGRESS: _share(c.progress_on_time, c.progress_due),
        Component.INSTRUCTIONS: _share(c.instructions_in_time, c.instructions_addressed),
        Component.TARGETS: _share(good, judged),
    }


def score(parts: Mapping[Component, float | None], weights: Weights) -> float | None:
    """100 × Σ wᵢ·cᵢ / Σ wᵢ over the counted components (rounded to two decimals); None when none counts."""
    counted = [(weights.of(c), v) for c, v in parts.items() if v is not None and weights.of(c) > 0]
    total = sum(w for w, _v in counted)
    if not total:
        return None
    return round(100 * sum(w * v for w, v in counted) / total, 2)


def rank(counts: Sequence[Counts], weights: Weights) -> list[Line]:
    """Every department scored and ranked, best first; unscored ones last, unranked, by code."""
    scored = [(c, parts, score(parts, weights)) for c in counts for parts in [components(c)]]
    scored.sort(key=lambda t: (t[2] is None, -(t[2] or 0.0), t[0].department))
    out: list[Line] = []
    for i, (c, parts, s) in enumerate(scored):
        if s is None:
            r = None
        elif out and out[-1].score == s:
            r = out[-1].rank
        else:
            r = i + 1
        out.append(Line(counts=c, components=parts, score=s, rank=r))
    return out
