"""The plan deliverables' metric families (METRICS.md), read from the store on each scrape."""

from prometheus_client.core import Metric
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import deliverables as store
from app.domain.deliverables import SEVERITY
from app.domain.periods import today_in_shanghai
from app.metrics import gauge, stateset

STATUSES = tuple(s.value for s in SEVERITY)


async def collect(session: AsyncSession) -> list[Metric]:
    """attain_deliverable_status (one stateset per deliverable, lead department) and attain_deliverables (per
    listed department and status, zeros included so every panel has a series)."""
    today = today_in_shanghai()
    status = stateset("attain_deliverable_status",
                      "Status of each plan deliverable on today's date (Asia/Shanghai): 1 for the current one.",
                      ["deliverable", "department"])
    per_department: dict[str, dict[str, int]] = {}
    for d in await store.load(session):
        now = d.status(today).value
        status.add_metric([d.code, d.departments[0] if d.departments else "none"],
                          {s: s == now for s in STATUSES})
        for dept in d.departments:
            per_department.setdefault(dept, dict.fromkeys(STATUSES, 0))[now] += 1
    counts = gauge("attain_deliverables", "Plan deliverables per listed department and status, today.",
                   ["department", "status"])
    for dept, by_status in sorted(per_department.items()):
        for s, n in by_status.items():
            counts.add_metric([dept, s], n)
    return [status, counts]
