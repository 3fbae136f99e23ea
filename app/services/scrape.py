"""The /metrics scrape collector: store-derived families, read fresh on each scrape (every worker answers the same)."""

import time
from datetime import UTC, datetime
from datetime import time as dtime

from prometheus_client.core import Metric
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import YearlyValue
from app.db.types import utcnow
from app.domain.catalog import CITY, Catalog
from app.domain.periods import SHANGHAI, today_in_shanghai
from app.metrics import STATES, gauge, stateset
from app.services import attainment as service
from app.services import scrape_reporting
from app.services.rollup import Backlog

YEAR_SECONDS = 366 * 24 * 3600
_FREQ_SECONDS = {"month": 31 * 86400, "quarter": 92 * 86400, "semester": 184 * 86400, "year": YEAR_SECONDS}
Y = YearlyValue.__table__  # type: ignore[attr-defined]
FAMILY = {"percent": "ratio", "yuan": "yuan"}


def _family(unit: str) -> str:
    return FAMILY.get(unit, "items")


def _scale(unit: str, value: float) -> float:
    # Ratios are exported 0–1 (a gross rate may exceed 1 and is never capped).
    return value / 100.0 if unit == "percent" else value


def _end_of_day(d: object) -> float:
    return datetime.combine(d, dtime(23, 59, 59), tzinfo=SHANGHAI).timestamp()  # type: ignore[arg-type]


async def collect(session: AsyncSession, catalog: Catalog) -> list[Metric]:
    """Every store-derived family for the city and its districts (never schools)."""
    started = time.perf_counter()
    exported = {CITY, *catalog.children.get(CITY, [])}
    names = {c: catalog.units[c].name for c in exported if c in catalog.units}
    today = today_in_shanghai()

    values = {k: gauge(f"attain_indicator_{k}", f"Latest yearly value of each indicator ({k}), fresh per scrape.",
                       ["indicator", "unit_code", "unit_name"]) for k in ("ratio", "items", "yuan")}
    rows = await session.execute(
        select(Y.c.indicator_code, Y.c.unit_code, Y.c.year, Y.c.value, Y.c.period_end, Y.c.updated_at)
        # Naming the indicators lets the (indicator, unit, year) key serve the read: no scan of every school's rows.
        .where(Y.c.indicator_code.in_(sorted(catalog.indicators)), Y.c.unit_code.in_(sorted(exported)),
               Y.c.year <= today.year, Y.c.value.is_not(None))
    )
    latest: dict[tuple[str, str], tuple[int, float]] = {}
    last_report: dict[str, float] = {}
    last_end: dict[str, float] = {}
    for ind, unit, year, value, period_end, updated_at in rows:
        if (ind, unit) not in latest or latest[(ind, unit)][0] < year:
            latest[(ind, unit)] = (year, value)
        last_report[unit] = max(last_report.get(unit, 0.0), updated_at.astimezone(UTC).timestamp())
        last_end[unit] = max(last_end.get(unit, 0.0), _end_of_day(period_end))
    for (ind, unit), (_, value) in sorted(latest.items()):
        if ind not in catalog.indicators:
            continue
        iunit = catalog.indicators[ind].unit
        values[_family(iunit)].add_metric([ind, unit, names.get(unit, unit)], _scale(iunit, value))

    report = await service.report(session, catalog, on=today, as_of=None)
    target_labels = ["indicator", "unit_code", "kind", "target_year"]
    targets = {k: gauge(f"attain_target_{k}", f"Threshold of each target ({k}).", target_labels)
               for k in ("ratio", "items", "yuan")}
    attainment = gauge("attain_attainment_ratio", "Attainment ratio of each target (ATTAINMENT.md).", target_labels)
    progress = gauge("attain_progress_ratio", "Progress from baseline to target (ATTAINMENT.md).", target_labels)
    status = stateset("attain_target_status", "Status of each target: 1 for the current one.", target_labels)
    for r in report.rows:
        if r.unit_code not in exported:
            continue
        iunit = catalog.indicators[r.indicator].unit
        # An open-ended (长期) target is labelled target_year="none" (ATTAINMENT.md).
        labels = [r.indicator, r.unit_code, r.kind.value, str(r.target_year) if r.target_year else "none"]
        targets[_family(iunit)].add_metric(labels, _scale(iunit, r.target_value))
        j = r.judgement
        if j.attainment_ratio is not None:
            attainment.add_metric(labels, j.attainment_ratio)
        if j.progress is not None:
            progress.add_metric(labels, j.progress)
        status.add_metric(labels, {s: s == j.status.value for s in STATES})

    reported = gauge("attain_unit_last_report_timestamp_seconds", "Time of the unit's latest accepted value.",
                     ["unit_code"])
    period_end = gauge("attain_unit_latest_period_end_timestamp_seconds",
                       "End of the latest period the unit (or any unit under it) has reported.", ["unit_code"])
    interval = gauge("attain_unit_report_interval_seconds",
                     "Longest reporting period of the indicators the unit reports: silence beyond it is late.",
                     ["unit_code"])
    district_freq = max((_FREQ_SECONDS[i.frequency] for i in catalog.indicators.values() if i.level == "district"),
                        default=YEAR_SECONDS)
    city_freq = max((_FREQ_SECONDS[i.frequency] for i in catalog.indicators.values()), default=YEAR_SECONDS)
    for unit in sorted(exported):
        if unit in last_report:
            reported.add_metric([unit], last_report[unit])
            period_end.add_metric([unit], last_end[unit])
        interval.add_metric([unit], float(city_freq if unit == CITY else district_freq))
    reporting = await scrape_reporting.collect(session, catalog, today)
    collect_seconds = gauge("attain_scrape_collect_seconds", "Time spent reading the store for this scrape.", [])
    collect_seconds.add_metric([], time.perf_counter() - started)
    return [*values.values(), *targets.values(), attainment, progress, status, reported, period_end, interval,
            *reporting, collect_seconds]


def rollup_families(backlog: Backlog) -> list[Metric]:
    """The roll-up's backlog as this scrape found it, before it rolled it up (read on every scrape)."""
    pending = gauge("attain_rollup_pending_cells", "Dirty yearly cells waiting for the roll-up, read on every scrape.",
                    [])
    pending.add_metric([], float(backlog.cells))
    lag = gauge("attain_rollup_lag_seconds", "Age of the oldest dirty yearly cell (0 when none waits), read on every "
                "scrape.", [])
    lag.add_metric([], backlog.lag_seconds(utcnow()))
    return [pending, lag]
