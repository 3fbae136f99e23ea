"""Prometheus: HTTP and ingestion counters (multiprocess-safe), and the store-derived collector."""

import os
import shutil
import tempfile
from collections import Counter

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client import Counter as PromCounter

OUTCOMES = ("created", "updated", "unchanged", "rejected")

REGISTRY = CollectorRegistry(auto_describe=True)

INGESTED = PromCounter(
    "attain_measurements_ingested",
    "Submitted values by the city or district they belong to and what became of them.",
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


def count_ingested(tallies: Counter[tuple[str, str]]) -> None:
    """Add one submission's per-unit outcomes to the ingestion counter."""
    for (unit, outcome), n in tallies.items():
        if n:
            INGESTED.labels(unit_code=unit, outcome=outcome).inc(n)


def prepare_multiprocess() -> None:
    """Point prometheus_client at a fresh shared folder before uvicorn forks its workers."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        folder = tempfile.mkdtemp(prefix="attain-prom-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    else:
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder, exist_ok=True)
