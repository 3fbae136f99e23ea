"""What readers of a report get — rows as sent, a unit's status counts per action and department with its
completeness, yearly series — shared by the JSON API and the leaders' page, so both show the same figures."""

from collections import Counter
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.db import catalog as q
from app.domain.attainment import SEVERITY
from app.domain.catalog import CITY, Catalog
from app.domain.lights import target_light
from app.domain.report import Row
from app.domain.reporting import latest_due_year, rates
from app.schemas.attainment import (
    Actual,
    AttainmentRow,
    BaselineRead,
    Completeness,
    Partial,
    StatusCounts,
    SummaryReport,
    UnitCompleteness,
    UnitYears,
    YearlyReport,
    YearlyValueRead,
    YearRead,
)
from app.services import completeness
from app.services.attainment import Report


def row_read(cat: Catalog, r: Row, pressed: frozenset[tuple[str, str]] = frozenset()) -> AttainmentRow:
    """One judged target row as the API sends it; `pressed`: the (kind, code) of every target with an overdue
    批示 (one on the row's indicator or its task turns the row red)."""
    ind = cat.indicators[r.indicator]
    task = cat.tasks[ind.task_number]
    j = r.judgement
    actual = (Actual(value=j.actual, year=j.actual_year, period=j.actual_period)
              if j.actual is not None and j.actual_year is not None else None)
    baseline = BaselineRead(value=j.baseline, year=j.baseline_year) if j.baseline is not None else None
    unit = cat.units.get(r.unit_code)
    return AttainmentRow(
        target_id=r.target_id, indicator=r.indicator, indicator_name_zh=ind.name_zh, indicator_name_en=ind.name_en,
        measure_unit=ind.unit, task=ind.task_number, action=task.action_number,
        departments=cat.task_departments.get(ind.task_number, []), unit_code=r.unit_code,
        unit_name=unit.name if unit else r.unit_code, kind=r.kind.value, op=r.op, target=r.target_value,
        target_year=r.target_year, year_from=r.year_from, inherited=r.inherited, parent_unit=r.parent_unit,
        status=j.status.value, met=j.met,
        light=target_light(status=j.status.value, instruction_overdue=bool(pressed) and (
            ("indicator", r.indicator) in pressed or ("task", str(ind.task_number)) in pressed)).value,
        actual=actual, baseline=baseline, projection=j.projection, pace=j.pace,
        progress=j.progress, attainment_ratio=j.attainment_ratio, deadline_passed=j.deadline_passed,
        years=[YearRead(year=y.year, value=y.value, met=y.met, missing=y.missing, pending=y.pending,
                        incomplete=y.incomplete) for y in j.years],
        units_met=j.units_met, units_total=j.units_total,
        complete=Completeness(reported=j.reported, expected=j.total) if j.total else None,
        reason=j.reason, trend=j.trend,
        partial=Partial(value=j.partial.value, year=j.partial.year, period=j.partial.period) if j.partial else None,
    )


def rows_read(cat: Catalog, report: Report) -> list[AttainmentRow]:
    """Every row of the report, as the API sends them."""
    return [row_read(cat, r, report.pressed) for r in report.rows]


def as_of_text(report: Report) -> str:
    """The report's as_of as sent: an instant, or "now"."""
    return report.as_of.isoformat() if report.as_of else "now"


def _counts(key: str, name_zh: str, name_en: str, statuses: Sequence[str]) -> StatusCounts:
    c = Counter(statuses)
    return StatusCounts(key=key, name_zh=name_zh, name_en=name_en, total=len(statuses),
                        counts={s.value: c.get(s.value, 0) for s in SEVERITY})


async def summarize(
    session: AsyncSession, cat: Catalog, report: Report, *, unit: str = CITY, department: str | None = None
) -> SummaryReport:
    """Status counts of one unit's target rows (its inherited and each_unit child rows included), per action and
    per responsible department (责任处室), with the unit's reporting completeness for the latest year due."""
    dept = department
    mine = [r for r in report.rows if r.unit_code == unit
            and (dept is None or dept in cat.task_departments.get(cat.indicators[r.indicator].task_number, []))]
    by_action: dict[int, list[str]] = {n: [] for n in sorted({t.action_number for t in cat.tasks.values()})}
    by_dept: dict[str, list[str]] = {c: [] for c in sorted(cat.departments)}
    for r in mine:
        task = cat.indicators[r.indicator].task_number
        by_action[cat.tasks[task].action_number].append(r.judgement.status.value)
        for d in cat.task_departments.get(task, []):
            if dept is None or d == dept:
                by_dept[d].append(r.judgement.status.value)
    actions = {a.number: a for a in await q.actions(session)}
    due_year = latest_due_year(report.on, (i.due_days for i in cat.indicators.values()))
    items = await completeness.items(session, cat, year=due_year, on=report.on, as_of=report.as_of,
                                     within=cat.subtree(unit))
    done = rates(i.state for i in items)
    return SummaryReport(
        date=report.on.isoformat(), as_of=as_of_text(report), unit=unit, department=dept,
        completeness=UnitCompleteness(year=due_year, expected=done.expected, reported=done.reported,
                                      on_time=done.on_time, reporting_rate=done.reporting_rate,
                                      on_time_rate=done.on_time_rate),
        total=_counts("all", "全部", "All", [r.judgement.status.value for r in mine]),
        by_action=[_counts(str(n), actions[n].title_zh if n in actions else "", actions[n].title_en if n in actions
                           else "", s) for n, s in by_action.items()],
        by_department=[_counts(c, cat.departments[c].name_zh, cat.departments[c].name_en, s)
                       for c, s in by_dept.items() if s],
    )


def yearly(cat: Catalog, report: Report, indicator: str) -> YearlyReport:
    """The yearly values A(u, y) the report judged, for the city and each district, with completeness."""
    out = []
    for code in [CITY, *cat.children.get(CITY, [])]:
        years = report.series.get((indicator, code), {})
        out.append(UnitYears(
            unit_code=code, unit_name=cat.units[code].name if code in cat.units else code,
            years=[YearlyValueRead(year=y.year, value=y.value, own=y.own, incomplete=not y.complete,
                                   complete=None if y.own else Completeness(reported=y.reported, expected=y.total))
                   for _, y in sorted(years.items())],
        ))
    return YearlyReport(indicator=indicator, date=report.on.isoformat(), as_of=as_of_text(report), units=out)
