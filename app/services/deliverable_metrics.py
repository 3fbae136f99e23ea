"""The plan deliverables' metric families (METRICS.md), read from the store on each scrape."""

from prometheus_client.core import Metric
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import deliverables as store
from app.db.models_supervision import ExtensionRequest
from app.domain.deliverables import SEVERITY
from app.domain.extensions import ExtensionState
from app.domain.lights import LIGHTS
from app.domain.periods import today_in_shanghai
from app.metrics import gauge, stateset
from app.services.deliverables import judge

STATUSES = tuple(s.value for s in SEVERITY)
X = ExtensionRequest.__table__  # type: ignore[attr-defined]


async def collect(session: AsyncSession) -> list[Metric]:
    """attain_deliverable_status (one stateset per deliverable, lead department), attain_deliverables (per listed
    department, status and light, zeros included so every panel has a series), attain_extension_requests and
    attain_progress_reports_overdue (per department)."""
    today = today_in_shanghai()
    status = stateset("attain_deliverable_status",
                      "Status of each plan deliverable on today's date (Asia/Shanghai): 1 for the current one.",
                      ["deliverable", "department"])
    per_department: dict[str, dict[tuple[str, str], int]] = {}
    late_progress: dict[str, int] = {}
    departments_of: dict[str, tuple[str, ...]] = {}
    for d in await store.load(session):
        j = judge(d, today)
        now = j.status.value
        departments_of[d.code] = d.departments
        status.add_metric([d.code, d.departments[0] if d.departments else "none"],
                          {s: s == now for s in STATUSES})
        for dept in d.departments:
            cells = per_department.setdefault(dept, {(s, li.value): 0 for s in STATUSES for li in LIGHTS})
            cells[(now, j.light.value)] += 1
            late_progress[dept] = late_progress.get(dept, 0) + int(j.progress_overdue)
    counts = gauge("attain_deliverables", "Plan deliverables per listed department, status and light, today.",
                   ["department", "status", "light"])
    for dept, cells in sorted(per_department.items()):
        for (s, li), n in cells.items():
            counts.add_metric([dept, s, li], n)
    overdue = gauge("attain_progress_reports_overdue",
                    "Deliverables whose progress report is overdue today, per listed department.", ["department"])
    for dept, n in sorted(late_progress.items()):
        overdue.add_metric([dept], n)
    requests = gauge("attain_extension_requests",
                     "Extension requests per listed department of their deliverable and state (read per scrape).",
                     ["department", "state"])
    by: dict[tuple[str, str], int] = {(dept, st.value): 0 for dept in per_department for st in ExtensionState}
    for code, state, n in await session.execute(select(X.c.deliverable_code, X.c.state, func.count())
                                                .group_by(X.c.deliverable_code, X.c.state)):
        for dept in departments_of.get(code, ()):
            by[(dept, state)] = by.get((dept, state), 0) + n
    for (dept, state), n in sorted(by.items()):
        requests.add_metric([dept, state], n)
    return [status, counts, overdue, requests]
