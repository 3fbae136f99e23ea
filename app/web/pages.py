"""The leaders' pages: thin routes that call the report services and render a template."""

from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.deps import SessionDep
from app.db import catalog as q
from app.domain.catalog import CITY, Catalog
from app.domain.periods import today_in_shanghai
from app.domain.times import parse_as_of, parse_day
from app.services import attainment as service
from app.services import attainment_reads as reads
from app.services import deliverables as plan
from app.services.attainment import Report
from app.web import views
from app.web.render import render
from app.web.session import ViewerDep

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True, slots=True)
class When:
    """The page's `date` and `as_of`, as typed in the URL and as parsed."""

    on: date
    as_of: datetime | None
    date_param: str
    as_of_param: str
    error: str | None

    @property
    def as_of_is_day(self) -> bool:
        return len(self.as_of_param) == 10

    @property
    def date(self) -> str:
        return self.on.isoformat()

    @property
    def as_of_text(self) -> str:
        return f"{self.as_of_param}（上海时间当日结束）" if self.as_of_is_day else (self.as_of_param or "现在")

    def link(self, path: str) -> str:
        """A link to another page that keeps this page's date and as_of."""
        params = {k: v for k, v in (("date", self.date_param), ("as_of", self.as_of_param)) if v}
        if not params:
            return path
        base, _, anchor = path.partition("#")
        return f"{base}?{urlencode(params)}" + (f"#{anchor}" if anchor else "")


def when(
    date_: Annotated[str, Query(alias="date", max_length=40)] = "",
    as_of: Annotated[str, Query(max_length=40)] = "",
) -> When:
    """Parse the pickers; a value that does not parse is named on the page and the default used instead."""
    errors, on, instant = [], today_in_shanghai(), None
    if date_.strip():
        try:
            on = parse_day(date_.strip())
        except ValueError:
            errors.append(f"判断日期“{date_}”无法识别，请使用 YYYY-MM-DD；已按今天显示。")
            date_ = ""
    if as_of.strip():
        try:
            instant = parse_as_of(as_of.strip())
        except ValueError:
            errors.append(f"数据截至“{as_of}”无法识别，请使用 YYYY-MM-DD 或 RFC 3339 时间；已按现在显示。")
            as_of = ""
    return When(on, instant, date_.strip(), as_of.strip(), "".join(errors) or None)


WhenDep = Annotated[When, Depends(when)]


async def _report(request: Request, session: AsyncSession, w: When) -> tuple[Catalog, Report]:
    cat = await request.app.state.catalogs.snapshot(session)
    timeout = request.app.state.settings.report_timeout_seconds
    return cat, await service.report(session, cat, on=w.on, as_of=w.as_of, report_timeout=timeout)


def _page(request: Request, template: str, w: When, viewer: Any, status: int = 200, **context: Any) -> HTMLResponse:
    return render(request, template, {"when": w, "viewer": viewer, "link": w.link, **context},
                  status=422 if w.error else status)


@router.get("/")
async def overview(request: Request, session: SessionDep, viewer: ViewerDep, w: WhenDep) -> HTMLResponse:
    """The plan at a glance."""
    cat, report = await _report(request, session, w)
    rows = reads.rows_read(cat, report)
    summary = await reads.summarize(session, cat, report)
    districts = [(code, cat.units[code].name, (await reads.summarize(session, cat, report, unit=code)).total)
                 for code in cat.children.get(CITY, [])]
    indicators = sorted(cat.indicators.values(), key=lambda i: (i.task_number, i.code))
    titles = {a.number: (a.title_zh, a.title_en) for a in await q.actions(session)}
    deliverables = await plan.plan_summary(session, cat, on=w.on, as_of=w.as_of, action_titles=titles)
    return _page(request, "overview.html", w, viewer, summary=summary, completeness=summary.completeness,
                 plan=deliverables.total, plan_by_action={g.key: g for g in deliverables.by_action},
                 heat=views.heat_map(cat, rows),
                 districts=districts, indicators=indicators, behind=[r for r in views.worst_first(rows)
                                                                     if r.status in ("missed", "off_track")
                                                                     and r.unit_code == CITY])


@router.get("/actions/{number}")
async def action(request: Request, number: int, session: SessionDep, viewer: ViewerDep, w: WhenDep) -> HTMLResponse:
    """One action: its tasks, departments, targets (city and districts)."""
    cat, report = await _report(request, session, w)
    actions = await q.actions(session)
    titles = views.action_titles(actions)
    if number not in titles:
        return _page(request, "missing.html", w, viewer, status=404, what=f"第{number}项行动")
    rows = [r for r in reads.rows_read(cat, report) if r.action == number]
    summary = await reads.summarize(session, cat, report)
    listing = await plan.list_deliverables(session, cat, plan.Filters(action=number), on=w.on, as_of=w.as_of)
    return _page(request, "action.html", w, viewer, action_number=number, title=titles[number],
                 deliverables=views.deliverables(cat, listing),
                 tasks=views.action_tasks(cat, number), counts=views.find_counts(summary.by_action, str(number)),
                 city=views.worst_first([r for r in rows if r.unit_code == CITY]),
                 districts=views.worst_first([r for r in rows if r.unit_code != CITY]))


@router.get("/departments/{code}")
async def department(request: Request, code: str, session: SessionDep, viewer: ViewerDep, w: WhenDep) -> HTMLResponse:
    """One department (处室): the targets of its tasks."""
    cat, report = await _report(request, session, w)
    if code not in cat.departments:
        return _page(request, "missing.html", w, viewer, status=404, what=f"处室 {code}")
    dept = cat.departments[code]
    summary = await reads.summarize(session, cat, report, department=code)
    rows = [r for r in reads.rows_read(cat, report) if code in r.departments]
    tasks = views.department_tasks(cat, code)
    listing = await plan.list_deliverables(session, cat, plan.Filters(department=code), on=w.on, as_of=w.as_of)
    return _page(request, "department.html", w, viewer, dept=dept, tasks=tasks,
                 deliverables=views.deliverables(cat, listing),
                 counts=summary.total,
                 city=views.worst_first([r for r in rows if r.unit_code == CITY]),
                 districts=views.worst_first([r for r in rows if r.unit_code != CITY]))


@router.get("/districts/{code}")
async def district(request: Request, code: str, session: SessionDep, viewer: ViewerDep, w: WhenDep) -> HTMLResponse:
    """One district: its own summary and rows."""
    cat, report = await _report(request, session, w)
    if code not in cat.units or code == CITY:
        return _page(request, "missing.html", w, viewer, status=404, what=f"区市 {code}")
    actions = await q.actions(session)
    summary = await reads.summarize(session, cat, report, unit=code)
    rows = [r for r in reads.rows_read(cat, report) if r.unit_code == code]
    return _page(request, "district.html", w, viewer, unit=cat.units[code], summary=summary,
                 titles=views.action_titles(actions), rows=views.worst_first(rows))


@router.get("/indicators/{code}")
async def indicator(request: Request, code: str, session: SessionDep, viewer: ViewerDep, w: WhenDep) -> HTMLResponse:
    """One indicator: yearly values of the city and every district against its targets, with completeness."""
    cat, report = await _report(request, session, w)
    if code not in cat.indicators:
        return _page(request, "missing.html", w, viewer, status=404, what=f"指标 {code}")
    rows = [r for r in reads.rows_read(cat, report) if r.indicator == code]
    yearly = reads.yearly(cat, report, code)
    ind = cat.indicators[code]
    years, table = views.yearly_table(yearly, districts_report=ind.level == "district")
    return _page(request, "indicator.html", w, viewer, ind=ind, task=cat.tasks[ind.task_number],
                 rows=views.worst_first(rows), city=[r for r in rows if r.unit_code == CITY and not r.inherited],
                 chart=views.chart(cat, yearly, rows), years=years, table=table)
