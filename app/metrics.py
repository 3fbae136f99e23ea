"""Prometheus: HTTP and ingestion counters (multiprocess-safe), and store-derived gauges built per scrape."""

import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Histogram, disable_created_metrics, generate_latest
from prometheus_client import Counter as PromCounter
from prometheus_client.core import GaugeMetricFamily, Metric, StateSetMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from app.domain.attainment import SEVERITY

# *_created samples double the series count and no dashboard reads them.
disable_created_metrics()

OUTCOMES = ("created", "updated", "unchanged", "rejected")

REGISTRY = CollectorRegistry(auto_describe=True)

INGESTED = PromCounter(
    "attain_measurements_ingested",
    "Submitted values by the city or district they belong to, and what became of them.",
    ["unit_code", "outcome"],
    registry=REGISTRY,
)
HTTP_REQUESTS = PromCounter(
    "attain_http_requests", "HTTP requests by method, route template and status.", ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_DURATION = Histogram(
    "attain_http_request_duration_seconds", "HTTP request duration by method and route template.",
    ["method", "route"], registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

ROLLUP_DURATION = Histogram(
    "attain_rollup_duration_seconds", "Time per roll-up batch (kept yearly rows and flags brought up to date).",
    registry=REGISTRY, buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)


def count_ingested(tallies: Counter[tuple[str, str]]) -> None:
    """Add one submission's per-unit outcomes to the ingestion counter."""
    for (unit, outcome), n in tallies.items():
        if n:
            INGESTED.labels(unit_code=unit, outcome=outcome).inc(n)


def ensure_ingest_series(units: Iterable[str]) -> None:
    """Counters exist from the start: one series per city/district and outcome, at 0."""
    for unit in units:
        for outcome in OUTCOMES:
            INGESTED.labels(unit_code=unit, outcome=outcome)


def prepare_multiprocess() -> None:
    """Point prometheus_client at a fresh shared folder before uvicorn starts its workers."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        folder = tempfile.mkdtemp(prefix="attain-prom-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    else:
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder, exist_ok=True)


class _Fixed(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return self.families


def exposition(store_families: list[Metric]) -> bytes:
    """The text exposition: this process's (or all workers') counters plus the store-derived families."""
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
        counters = generate_latest(registry)
    else:
        counters = generate_latest(REGISTRY)
    store = CollectorRegistry(auto_describe=False)
    store.register(_Fixed(store_families))
    return counters + generate_latest(store)


def gauge(name: str, doc: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=labels)


def stateset(name: str, doc: str, labels: list[str]) -> StateSetMetricFamily:
    return StateSetMetricFamily(name, doc, labels=labels)


STATES = tuple(s.value for s in SEVERITY)


def observe_request(*, method: str, route: str, status: int, seconds: float) -> None:
    """Count and time one request, by route template (never the raw path, so labels stay bounded)."""
    method = method if method in _METHODS else "OTHER"
    HTTP_REQUESTS.labels(method=method, route=route, status=str(status)).inc()
    HTTP_DURATION.labels(method=method, route=route).observe(seconds)


_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})

NOTIFICATIONS_CREATED = PromCounter(
    "attain_notifications_created", "Notifications created by the reminder scheduler and by notices, by kind.",
    ["kind"], registry=REGISTRY,
)
DELIVERIES = PromCounter(
    "attain_deliveries", "Delivery attempts through outbound channels, by channel kind and result.",
    ["channel_kind", "result"], registry=REGISTRY,
)


def ensure_reminder_series(kinds: Iterable[str], channel_kinds: Iterable[str], results: Iterable[str]) -> None:
    """Counters exist from the start: every kind, every channel kind and result, at 0."""
    for kind in kinds:
        NOTIFICATIONS_CREATED.labels(kind=kind)
    results = list(results)
    for ck in channel_kinds:
        for r in results:
            DELIVERIES.labels(channel_kind=ck, result=r)
