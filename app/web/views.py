"""What each page shows, assembled from the services' answers (the same objects the JSON API sends).

No rule lives here: statuses, figures, counts and yearly values all come from the services; this module only
picks, groups and orders them for a page.
"""

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from app.db.models import Action
from app.domain.attainment import SEVERITY, Status, most_severe
from app.domain.catalog import CITY, Catalog
from app.domain.deliverables import SEVERITY as DELIVERABLE_SEVERITY
from app.schemas.attainment import AttainmentRow, StatusCounts, SummaryReport, YearlyReport, YearlyValueRead
from app.services.deliverables import Listing

BY_SEVERITY = {s.value: i for i, s in enumerate(SEVERITY)}


def worst_first(rows: list[AttainmentRow]) -> list[AttainmentRow]:
    """Rows ordered so that what is behind comes first, then by task and indicator."""
    return sorted(rows, key=lambda r: (BY_SEVERITY[r.status], r.task, r.indicator, r.unit_code))


@dataclass
class HeatMap:
    """District × indicator: the worst status of the district's rows for that indicator; None shows "—"."""

    indicators: list[tuple[str, str]]
    districts: list[tuple[str, str]]
    cells: dict[tuple[str, str], str] = field(default_factory=dict)


def heat_map(cat: Catalog, rows: list[AttainmentRow]) -> HeatMap:
    """Only indicators that have district rows appear (inherited and each_unit rows of the districts)."""
    districts = cat.children.get(CITY, [])
    by_cell: dict[tuple[str, str], list[Status]] = {}
    for r in rows:
        if r.unit_code in districts:
            by_cell.setdefault((r.unit_code, r.indicator), []).append(Status(r.status))
    codes = sorted({ind for _, ind in by_cell}, key=lambda c: (cat.indicators[c].task_number, c))
    return HeatMap(
        indicators=[(c, cat.indicators[c].name_zh) for c in codes],
        districts=[(d, cat.units[d].name) for d in districts],
        cells={k: most_severe(v).value for k, v in by_cell.items()},
    )


def action_tasks(cat: Catalog, number: int) -> list[dict[str, Any]]:
    """The action's tasks with their departments' names, lead first."""
    return [
        {"number": n, "text": t.text,
         "departments": [(d, cat.departments[d].name_zh) for d in cat.task_departments.get(n, [])
                         if d in cat.departments]}
        for n, t in sorted(cat.tasks.items()) if t.action_number == number
    ]


def deliverables(cat: Catalog, listing: Listing) -> list[dict[str, Any]]:
    """Judged deliverables for a page, worst first, with their departments' names."""
    rank = {s: i for i, s in enumerate(DELIVERABLE_SEVERITY)}
    items = sorted(listing.items, key=lambda j: (rank[j.status], j.deliverable.deadline or date.max,
                                                  j.deliverable.code))
    return [
        {"code": j.deliverable.code, "title": j.deliverable.title, "deadline": j.deliverable.effective_deadline,
         "deadline_text": j.deliverable.deadline_text, "status": j.status.value, "light": j.light.value,
         "done_on": j.deliverable.report.done_on, "document_no": j.deliverable.report.document_no,
         "departments": [(d, cat.departments[d].name_zh) for d in j.deliverable.departments if d in cat.departments]}
        for j in items
    ]


def find_counts(groups: list[StatusCounts], key: str) -> StatusCounts | None:
    """One action's or department's counts from a summary."""
    return next((g for g in groups if g.key == key), None)


def action_titles(actions: list[Action]) -> dict[int, str]:
    """Action number → Chinese title."""
    return {a.number: a.title_zh for a in actions}


def chart(cat: Catalog, yearly: YearlyReport, rows: list[AttainmentRow]) -> dict[str, Any]:
    """The indicator chart's data: a line per unit, the city's targets (dashed) and projections."""
    ind = cat.indicators[yearly.indicator]
    city_rows = [r for r in rows if r.unit_code == CITY and not r.inherited]
    years = {y.year for u in yearly.units for y in u.years}
    for r in city_rows:
        years.update(y for y in (r.target_year, r.year_from) if y is not None)
    span = list(range(min(years), max(years) + 1)) if years else []
    lines = []
    for u in yearly.units:
        by_year = {y.year: y for y in u.years}
        if not by_year:
            continue
        lines.append({
            "name": u.unit_name, "code": u.unit_code, "city": u.unit_code == CITY,
            "values": [by_year[y].value if y in by_year else None for y in span],
            "complete": [_complete(by_year.get(y)) for y in span],
        })
    targets = [{"value": r.target, "year": r.target_year, "from": r.year_from, "kind": r.kind, "op": r.op,
                "status": r.status} for r in city_rows]
    projections = [{"from_year": r.actual.year, "from_value": r.actual.value, "year": r.target_year,
                    "value": r.projection} for r in city_rows
                   if r.projection is not None and r.actual is not None and r.target_year is not None]
    return {"unit": ind.unit, "years": span, "lines": lines, "targets": targets, "projections": projections}


def _complete(y: YearlyValueRead | None) -> list[int] | None:
    return None if y is None or y.complete is None else [y.complete.reported, y.complete.expected]


def department_tasks(cat: Catalog, code: str) -> list[dict[str, Any]]:
    """The department's tasks, as action_tasks lists them."""
    mine = set(cat.department_tasks.get(code, []))
    return [t for n in sorted({cat.tasks[m].action_number for m in mine}) for t in action_tasks(cat, n)
            if t["number"] in mine]


def yearly_table(yearly: YearlyReport, *, districts_report: bool) -> tuple[list[int], list[dict[str, Any]]]:
    """Years as columns, units as rows, each cell a value with its completeness when aggregated. Silent districts
    stay (as "—") when districts report the indicator; for a city-reported one only units with values are shown."""
    years = sorted({y.year for u in yearly.units for y in u.years})
    table = [{"code": u.unit_code, "name": u.unit_name, "cells": {y.year: y for y in u.years}} for u in yearly.units
             if districts_report or u.years or u.unit_code == CITY]
    return years, table


def summary_total(summary: SummaryReport) -> StatusCounts:
    """The summary's total counts."""
    return summary.total
