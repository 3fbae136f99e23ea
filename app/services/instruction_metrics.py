"""attain_instructions (METRICS.md): (批示, addressed department) pairs by state and overdue, read from the store on
each scrape. Per department only: 批示 themselves are never labels."""

from prometheus_client.core import Metric
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.catalog import Catalog
from app.domain.instructions import InstructionState
from app.domain.periods import today_in_shanghai
from app.metrics import gauge
from app.services import instructions


async def collect(session: AsyncSession, catalog: Catalog) -> list[Metric]:
    """Every department × state × overdue, zeros included, so each panel and alert has its series."""
    counts = {(d, s.value, o): 0 for d in catalog.departments for s in InstructionState for o in ("true", "false")}
    for v in await instructions.listing(session, instructions.Filters(), on=today_in_shanghai(), as_of=None):
        for d in v.loaded.departments:
            key = (d, v.judged.state.value, "true" if d in v.judged.overdue else "false")
            counts[key] = counts.get(key, 0) + 1
    family = gauge("attain_instructions",
                   "批示 per addressed department, state and whether that department is overdue on today's date "
                   "(Asia/Shanghai): (instruction, department) pairs, read from the store on each scrape.",
                   ["department", "state", "overdue"])
    for (d, s, o), n in sorted(counts.items()):
        family.add_metric([d, s, o], n)
    return [family]
