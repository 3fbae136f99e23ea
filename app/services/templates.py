"""The template use case: which indicators a unit reports for a period, with last year's values beside."""

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.db import measurements
from app.domain import template
from app.domain.catalog import Catalog, IndicatorRow
from app.domain.completeness import reporter_codes
from app.domain.keys import Principal, Role
from app.domain.periods import MIN_YEAR, Period, PeriodError, PeriodType, is_finer, parse_period, today_in_shanghai
from app.errors import Unprocessable
from app.i18n import _, message_of
from app.services.catalog import unit_code_or_422


@dataclass(frozen=True, slots=True)
class Template:
    filename: str
    body: bytes


def reports(catalog: Catalog, unit_code: str, period: Period) -> list[IndicatorRow]:
    """Indicators the unit must report for the period: those whose reporters (the schedule's list, else every
    unit at the indicator's level) include it and whose frequency the period fits."""
    return sorted(
        (i for i in catalog.indicators.values()
         if unit_code in reporter_codes(catalog, i.reporters, i.level)
         and not is_finer(period.type, PeriodType(i.frequency))),
        key=lambda i: (i.task_number, i.code),
    )


def previous_label(period: Period) -> str:
    """The same period a year earlier: every canonical label starts with its year (2024Q1 → 2023Q1)."""
    return f"{int(period.label[:4]) - 1}{period.label[4:]}"


async def build(session: AsyncSession, catalog: Catalog, caller: Principal, *, unit: str | None,
                period: str | None) -> Template:
    """The .xlsx template for a unit (a district key's own by default) and a period (last year by default)."""
    if unit is None:
        if caller.role != Role.DISTRICT or caller.unit_code is None:
            raise Unprocessable(_("Name the unit: ?unit= a code, name or alias from /api/v1/units."),
                                errors=[{"location": "query.unit", "message": "required"}])
        unit = caller.unit_code
    code = unit_code_or_422(catalog, unit)
    try:
        chosen = parse_period(period or str(today_in_shanghai().year - 1))
    except PeriodError as exc:
        raise Unprocessable(message_of(exc), errors=[{"location": "query.period", "message": str(exc)}]) from None
    indicators = reports(catalog, code, chosen)
    before = previous_label(chosen)
    previous: dict[str, float | None] = {}
    if chosen.start.year > MIN_YEAR:  # 1900 has no year before it that a period could name
        last = parse_period(before)
        stored = await measurements.values(session, units=[code], start=last.start, end=last.end)
        previous = {r.indicator: r.value for r in stored if r.period == before}
    lines = [
        template.Line(code=i.code, name_zh=i.name_zh, task=i.task_number,
                      task_text=catalog.tasks[i.task_number].text if i.task_number in catalog.tasks else "",
                      unit=i.unit, measure=i.measure, direction=i.direction, frequency=i.frequency,
                      low=i.min_value, high=i.max_value, previous=previous.get(i.code))
        for i in indicators
    ]
    body = template.build(unit_code=code, unit_name=catalog.units[code].name, period=chosen.label,
                          previous_period=before, lines=lines)
    return Template(filename=f"template-{code}-{chosen.label}.xlsx", body=body)
