"""The reporting families of /metrics (METRICS.md): reporting and on-time rates for the latest yearly period
already due, open quality flags, and datasets per review state — read fresh on each scrape."""

from datetime import date

from prometheus_client.core import Metric
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import QualityFlag, Review
from app.domain.catalog import CITY, Catalog
from app.domain.reporting import latest_due_year, rates
from app.domain.review import ReviewState
from app.metrics import gauge
from app.services import completeness

Q = QualityFlag.__table__  # type: ignore[attr-defined]
RV = Review.__table__  # type: ignore[attr-defined]


def _exported_unit(catalog: Catalog, code: str) -> str | None:
    """The city or district a unit belongs to (schools roll up to their district)."""
    chain = [code, *catalog.ancestors(code)]
    if chain[-1] != CITY:
        return None
    return chain[-2] if len(chain) >= 2 else CITY


async def collect(session: AsyncSession, catalog: Catalog, today: date) -> list[Metric]:
    exported = sorted({CITY, *catalog.children.get(CITY, [])})
    year = latest_due_year(today, (i.due_days for i in catalog.indicators.values()))
    items = await completeness.items(session, catalog, year=year, on=today, as_of=None)
    rate = gauge("attain_reporting_rate_ratio",
                 "Reported / expected (indicator, reporter) pairs for the latest yearly period already due, the "
                 "unit and the units below it; fresh per scrape.", ["unit_code"])
    on_time = gauge("attain_reporting_on_time_ratio",
                    "On time / expected for the latest yearly period already due; fresh per scrape.", ["unit_code"])
    for unit in exported:
        mine = catalog.subtree(unit)
        r = rates(i.state for i in items if i.unit in mine)
        if r.reporting_rate is not None and r.on_time_rate is not None:
            rate.add_metric([unit], r.reporting_rate)
            on_time.add_metric([unit], r.on_time_rate)

    flags = gauge("attain_quality_flags_open", "Open data-quality flags of the unit and the units below it.",
                  ["unit_code"])
    counts = dict.fromkeys(exported, 0)
    for unit, n in await session.execute(
            select(Q.c.unit_code, func.count()).where(Q.c.state == "open").group_by(Q.c.unit_code)):
        top = _exported_unit(catalog, unit)
        if top is not None:
            counts[top] += n
            if top != CITY:
                counts[CITY] += n
    for unit in exported:
        flags.add_metric([unit], float(counts[unit]))

    reviews = gauge("attain_reviews", "Reviewed datasets (a unit and a year) per review state.", ["state"])
    by_state = dict.fromkeys((s.value for s in ReviewState), 0)
    for state, n in await session.execute(select(RV.c.state, func.count()).group_by(RV.c.state)):
        by_state[state] = n
    for state, n in by_state.items():
        reviews.add_metric([state], float(n))
    return [rate, on_time, flags, reviews]
