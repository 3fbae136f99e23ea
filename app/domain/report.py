"""Attainment rows: every target judged for its unit, plus each_unit and inherited child rows."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date

from app.domain.attainment import Bounds, Judgement, Kind, TargetSpec, judge, judge_each_unit
from app.domain.yearly import Measure, YearValue

PERCENT = "percent"
DISTRICT_LEVEL = "district"


@dataclass(frozen=True, slots=True)
class IndicatorInfo:
    code: str
    task: int
    unit: str
    measure: Measure
    direction: str
    level: str
    bounds: Bounds


@dataclass(frozen=True, slots=True)
class TargetInfo:
    id: int
    indicator: str
    unit_code: str
    spec: TargetSpec


@dataclass(frozen=True, slots=True)
class Row:
    target_id: int
    indicator: str
    unit_code: str
    kind: Kind
    op: str
    target_value: float
    target_year: int | None
    year_from: int | None
    inherited: bool
    parent_unit: str | None
    judgement: Judgement


def _row(target: TargetInfo, *, unit: str, judgement: Judgement, inherited: bool, parent: str | None) -> Row:
    spec = target.spec
    return Row(
        target_id=target.id,
        indicator=target.indicator,
        unit_code=unit,
        kind=spec.kind,
        op=spec.op,
        target_value=spec.value,
        target_year=spec.year,
        year_from=spec.year_from,
        inherited=inherited,
        parent_unit=parent,
        judgement=judgement,
    )


def _inherits(indicator: IndicatorInfo, target: TargetInfo, *, is_child: bool) -> bool:
    # Only a city target on a district-reported percentage: a district's share is comparable with the
    # city's, whereas a count or an amount of money split over districts is not.
    return (
        target.spec.kind in (Kind.REACH, Kind.EVERY_YEAR)
        and indicator.unit == PERCENT
        and indicator.level == DISTRICT_LEVEL
        and not is_child
    )


def _series(
    values: Mapping[tuple[str, str], Mapping[int, YearValue]], indicator: str, unit: str
) -> Mapping[int, YearValue]:
    return values.get((indicator, unit), {})


def _each_unit_rows(
    target: TargetInfo,
    *,
    bounds: Bounds,
    kids: Sequence[str],
    values: Mapping[tuple[str, str], Mapping[int, YearValue]],
    on: date,
    flow: bool,
) -> list[Row]:
    # The threshold applies to each child, so a declared baseline reads per child as well.
    per_child = replace(target.spec, kind=Kind.REACH)
    judged = [
        judge(spec=per_child, series=_series(values, target.indicator, kid), on=on, bounds=bounds, flow=flow)
        for kid in kids
    ]
    parent = judge_each_unit(spec=target.spec, children=judged, units_total=len(kids), on=on)
    rows = [_row(target, unit=target.unit_code, judgement=parent, inherited=False, parent=None)]
    rows.extend(
        _row(target, unit=kid, judgement=j, inherited=False, parent=target.unit_code)
        for kid, j in zip(kids, judged, strict=True)
    )
    return rows


def _inherited_rows(
    target: TargetInfo,
    *,
    bounds: Bounds,
    kids: Sequence[str],
    values: Mapping[tuple[str, str], Mapping[int, YearValue]],
    on: date,
    flow: bool,
) -> list[Row]:
    # A declared baseline describes the city's own figure, not any one district's.
    per_district = replace(target.spec, baseline_value=None, baseline_year=None)
    return [
        _row(
            target,
            unit=kid,
            judgement=judge(spec=per_district, series=_series(values, target.indicator, kid), on=on, bounds=bounds,
                            flow=flow),
            inherited=True,
            parent=target.unit_code,
        )
        for kid in kids
    ]


def build_rows(
    *,
    indicators: Mapping[str, IndicatorInfo],
    targets: Sequence[TargetInfo],
    children: Mapping[str, Sequence[str]],
    values: Mapping[tuple[str, str], Mapping[int, YearValue]],
    on: date,
) -> list[Row]:
    """Judge every target on the given day, in order of target id, each parent row before its children."""
    child_units = {kid for kids in children.values() for kid in kids}
    rows: list[Row] = []
    for target in sorted(targets, key=lambda t: t.id):
        indicator = indicators[target.indicator]
        unit = target.unit_code
        kids = sorted(set(children.get(unit, ())))
        flow = indicator.measure is Measure.FLOW
        if target.spec.kind is Kind.EACH_UNIT:
            rows.extend(_each_unit_rows(target, bounds=indicator.bounds, kids=kids, values=values, on=on, flow=flow))
            continue
        own = judge(spec=target.spec, series=_series(values, target.indicator, unit), on=on, bounds=indicator.bounds,
                    flow=flow)
        rows.append(_row(target, unit=unit, judgement=own, inherited=False, parent=None))
        if _inherits(indicator, target, is_child=unit in child_units):
            rows.extend(_inherited_rows(target, bounds=indicator.bounds, kids=kids, values=values, on=on, flow=flow))
    return rows
