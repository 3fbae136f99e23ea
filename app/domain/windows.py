"""Judging over a run of years: `every_year` windows and open-ended (长期) standing targets, and the series
helpers every kind shares (visible years, complete years, baseline)."""

import math
from collections.abc import Mapping
from datetime import date

from app.domain.figures import meets, ratio, share, trend
from app.domain.judgement import (
    DEFAULT_YEAR_FROM,
    INCOMPLETE,
    Judgement,
    Shown,
    Status,
    TargetSpec,
    YearDetail,
)
from app.domain.yearly import YearValue


def visible(series: Mapping[int, YearValue], on: date) -> dict[int, YearValue]:
    """Years whose value ended by `on`, in order (a stray later period or a NaN never reaches the figures)."""
    return {
        year: value for year, value in sorted(series.items()) if value.period_end <= on and math.isfinite(value.value)
    }


def complete_points(seen: Mapping[int, YearValue], *, last: int) -> list[tuple[int, float]]:
    """The complete years ≤ last: the only ones a baseline, a projection or a trend may use."""
    return [(y, v.value) for y, v in seen.items() if y <= last and v.complete]


def baseline(spec: TargetSpec, seen: Mapping[int, YearValue], *, last: int) -> tuple[float | None, int | None]:
    if spec.baseline_value is not None:
        return spec.baseline_value, spec.baseline_year
    earliest = next((v for y, v in seen.items() if y <= last and v.complete), None)
    return (earliest.value, earliest.year) if earliest is not None else (None, None)


def passed(year: int, on: date) -> bool:
    # Deadline passed once `on` >= 1 January of year + 1 (compared by year: no date past 9999 is built).
    return on.year > year


def counts_as_met(value: YearValue | None, spec: TargetSpec, *, flow: bool) -> bool:
    """A complete value meeting T; a partial flow already ≥ T counts too (a flow only grows)."""
    if value is None or not meets(value.value, spec.op, spec.value):
        return False
    return value.complete or (flow and spec.op == ">=")


def shown(value: YearValue | None) -> Shown | None:
    return Shown(value.value, value.year, value.period) if value is not None else None


def judge_every_year(spec: TargetSpec, seen: Mapping[int, YearValue], on: date, *, flow: bool) -> Judgement:
    """every_year: each ended year met, failed, missing or incomplete; an unfinished year is pending."""
    target, op = spec.value, spec.op
    last = spec.year if spec.year is not None else on.year
    first = spec.year_from if spec.year_from is not None else DEFAULT_YEAR_FROM
    deadline_passed = spec.year is not None and passed(spec.year, on)
    edge = min(on.year, last)
    base, base_year = baseline(spec, seen, last=edge)

    details: list[YearDetail] = []
    ratios: list[float | None] = []
    for year in range(first, last + 1):
        held = seen.get(year)
        value = held.value if held is not None else None
        partial = held is not None and not held.complete
        if counts_as_met(held, spec, flow=flow):
            details.append(YearDetail(year, value, True, False, False, partial))
        elif not passed(year, on):
            # A flow still accumulates and a stock can still move: an unfinished year cannot fail yet.
            details.append(YearDetail(year, value, None, False, True, partial))
            continue
        elif value is None:
            details.append(YearDetail(year, None, None, True, False))
            continue
        elif partial:
            details.append(YearDetail(year, value, None, False, False, True))  # never failed: not all reported
            continue
        else:
            details.append(YearDetail(year, value, False, False, False))
        year_met = bool(details[-1].met)
        ratios.append(ratio(value, target=target, op=op,
                            progress=share(value, baseline=base, target=target, op=op, actual_met=year_met)))

    ended = [d for d in details if not d.pending]
    reason = None
    if any(d.met is False for d in details):
        status = Status.MISSED
    elif not ended and not any(d.met for d in details):
        status = Status.NO_DATA
    elif any(d.missing for d in ended):
        status = Status.NO_DATA
    elif any(d.incomplete and d.met is None for d in ended):
        status, reason = Status.INSUFFICIENT_DATA, INCOMPLETE
    elif deadline_passed:
        status = Status.ACHIEVED  # every window year has ended, and none failed, is missing or incomplete
    else:
        status = Status.ON_TRACK

    complete = [v for y, v in seen.items() if y <= edge and v.complete]
    actual = (seen.get(last) if seen.get(last) and seen[last].complete else None) if deadline_passed else (
        complete[-1] if complete else None)
    latest = next((seen[y] for y in sorted(seen, reverse=True) if y <= edge), None)
    partial_shown = latest if latest is not None and not latest.complete and (
        actual is None or latest.year > actual.year) else None
    a = actual.value if actual is not None else None
    known = [r for r in ratios if r is not None]
    years_met = sum(1 for d in details if d.met)
    about = partial_shown or actual
    return Judgement(
        status=status, met=meets(a, op, target) if a is not None else None, actual=a,
        actual_year=actual.year if actual else None, actual_period=actual.period if actual else None,
        baseline=base, baseline_year=base_year, projection=None, pace=None,
        progress=years_met / len(details) if details else None, attainment_ratio=min(known) if known else None,
        deadline_passed=deadline_passed, years=tuple(details),
        reported=about.reported if about else 0, total=about.total if about else 0, reason=reason,
        trend=trend(complete_points(seen, last=edge), op=op, target=target, baseline=base),
        partial=shown(partial_shown),
    )


def judge_open_ended(spec: TargetSpec, seen: Mapping[int, YearValue], on: date, *, flow: bool) -> Judgement:
    """长期: judged on its current year C — never achieved or missed, since there is no deadline."""
    target, op = spec.value, spec.op
    first = spec.year_from if spec.year_from is not None else DEFAULT_YEAR_FROM
    this_year = seen.get(on.year)
    current = on.year if counts_as_met(this_year, spec, flow=flow) else on.year - 1
    held = seen.get(current)
    base, base_year = baseline(spec, seen, last=current)
    judged = held is not None and (held.complete or counts_as_met(held, spec, flow=flow))
    a = held.value if held is not None and judged else None
    met = meets(a, op, target) if a is not None else None
    reason = None
    if held is None:
        status = Status.NO_DATA
    elif not judged:
        status, reason = Status.INSUFFICIENT_DATA, INCOMPLETE
    else:
        status = Status.ON_TRACK if met else Status.OFF_TRACK
    details = tuple(
        YearDetail(y, v.value if v else None, meets(v.value, op, target) if v else None, v is None, False,
                   v is not None and not v.complete)
        for y in range(first, current + 1)
        for v in (seen.get(y),)
    )
    progress = share(a, baseline=base, target=target, op=op, actual_met=bool(met))
    return Judgement(
        status=status, met=met, actual=a, actual_year=current if a is not None else None,
        actual_period=held.period if held is not None and a is not None else None,
        baseline=base, baseline_year=base_year, projection=None, pace=None, progress=progress,
        attainment_ratio=ratio(a, target=target, op=op, progress=progress), deadline_passed=False, years=details,
        reported=held.reported if held else 0, total=held.total if held else 0, reason=reason,
        trend=trend(complete_points(seen, last=current), op=op, target=target, baseline=base),
        partial=shown(held) if held is not None and not judged else None,
    )
