"""Judging a target against a unit's yearly values: the figures and the status of docs/ATTAINMENT.md.

Only complete years are judged (baseline, projection, A); an incomplete one is shown on the row as `partial`.
"""

from collections.abc import Mapping, Sequence
from datetime import date

from app.domain.figures import Bounds, meets, projection, ratio, share, trend
from app.domain.judgement import (
    AT_RISK_PACE,
    DEFAULT_YEAR_FROM,
    INCOMPLETE,
    ON_TRACK_PACE,
    SEVERITY,
    Judgement,
    Kind,
    Shown,
    Status,
    TargetSpec,
    YearDetail,
    most_severe,
)
from app.domain.windows import (
    baseline,
    complete_points,
    judge_every_year,
    judge_open_ended,
    passed,
    shown,
    visible,
)
from app.domain.yearly import YearValue

__all__ = [
    "AT_RISK_PACE", "DEFAULT_YEAR_FROM", "ON_TRACK_PACE", "SEVERITY", "Bounds", "Judgement", "Kind", "Shown",
    "Status", "TargetSpec", "YearDetail", "judge", "judge_each_unit", "most_severe",
]


def judge(
    *, spec: TargetSpec, series: Mapping[int, YearValue], on: date, bounds: Bounds, flow: bool = False
) -> Judgement:
    """Judge a reach, every_year or open-ended target against one unit's yearly series (`flow`: the
    indicator's measure is a flow, whose partial year already meeting a `>=` threshold counts as met)."""
    seen = visible(series, on)
    if spec.year is None:
        return judge_open_ended(spec, seen, on, flow=flow)
    if spec.kind is Kind.EVERY_YEAR:
        return judge_every_year(spec, seen, on, flow=flow)
    return _judge_reach(spec, spec.year, seen, on, bounds)


def _pace_status(spec: TargetSpec, pace: float) -> Status:
    if pace >= spec.on_track:
        return Status.ON_TRACK
    return Status.AT_RISK if pace >= spec.at_risk else Status.OFF_TRACK


def _judge_reach(spec: TargetSpec, deadline: int, seen: Mapping[int, YearValue], on: date, bounds: Bounds) -> Judgement:
    target, op = spec.value, spec.op
    deadline_passed = passed(deadline, on)
    last = min(on.year, deadline)  # E
    points = complete_points(seen, last=last)
    if deadline_passed:
        held = seen.get(deadline)
        actual = held if held is not None and held.complete else None
        partial = held if held is not None and not held.complete else None
    else:
        complete = [v for y, v in seen.items() if y <= last and v.complete]
        actual = complete[-1] if complete else None
        latest = next((seen[y] for y in sorted(seen, reverse=True) if y <= last), None)
        partial = latest if latest is not None and not latest.complete and (
            actual is None or latest.year > actual.year) else None
    base, base_year = baseline(spec, seen, last=last)
    proj = projection(points, year=deadline, bounds=bounds)
    a = actual.value if actual is not None else None
    met = meets(a, op, target) if a is not None else None
    progress = share(a, baseline=base, target=target, op=op, actual_met=bool(met))
    pace = share(proj, baseline=base, target=target, op=op, actual_met=bool(met))

    reason = None
    if met is None and partial is not None:
        status, reason = Status.INSUFFICIENT_DATA, INCOMPLETE
    elif met is None:
        status = Status.NO_DATA
    elif deadline_passed:
        status = Status.ACHIEVED if met else Status.MISSED
    elif met:
        status = Status.ACHIEVED
    elif len(points) < 2 or pace is None:
        status = Status.INSUFFICIENT_DATA
    else:
        status = _pace_status(spec, pace)
    about = partial or actual
    return Judgement(
        status=status, met=met, actual=a, actual_year=actual.year if actual else None,
        actual_period=actual.period if actual else None, baseline=base, baseline_year=base_year,
        projection=proj, pace=pace, progress=progress, attainment_ratio=ratio(a, target=target, op=op,
                                                                              progress=progress),
        deadline_passed=deadline_passed, reported=about.reported if about else 0, total=about.total if about else 0,
        reason=reason, trend=trend(points, op=op, target=target, baseline=base), partial=shown(partial),
    )


def judge_each_unit(*, spec: TargetSpec, children: Sequence[Judgement], units_total: int, on: date) -> Judgement:
    """The parent row of an each_unit target, from the reach judgements of its direct children."""
    units_met = sum(1 for c in children if c.status is Status.ACHIEVED)
    deadline_passed = spec.year is not None and passed(spec.year, on)
    # A direct child the caller did not judge has, by definition, nothing to show.
    statuses = [c.status for c in children] + [Status.NO_DATA] * max(0, units_total - len(children))
    all_met = units_total > 0 and units_met >= units_total
    if all_met:
        status = Status.ACHIEVED
    elif deadline_passed and statuses:
        status = Status.MISSED
    else:
        status = most_severe(statuses)
    ratio_met = units_met / units_total if units_total > 0 else None
    return Judgement(
        status=status, met=all_met if units_total > 0 else None, actual=None, actual_year=None, actual_period=None,
        baseline=None, baseline_year=None, projection=None, pace=None, progress=ratio_met,
        attainment_ratio=ratio_met, deadline_passed=deadline_passed, units_met=units_met, units_total=units_total,
        reported=sum(1 for c in children if c.actual is not None), total=units_total,
    )
