"""The outbox's metric families (METRICS.md): depth and the age of its oldest undelivered row, read per scrape."""

from prometheus_client.core import Metric
from sqlalchemy.ext.asyncio import AsyncSession

from app import clock
from app.db import outbox
from app.metrics import gauge


async def collect(session: AsyncSession) -> list[Metric]:
    """attain_outbox_depth and attain_outbox_oldest_seconds (0 when empty), read on every scrape."""
    count, oldest = await outbox.depth(session, now=clock.now())
    depth = gauge("attain_outbox_depth", "Undelivered outbox rows (a broken channel's included), read on every "
                  "scrape.", [])
    depth.add_metric([], count)
    age = gauge("attain_outbox_oldest_seconds", "Age of the oldest undelivered outbox row (0 when none), read on "
                "every scrape.", [])
    age.add_metric([], oldest)
    return [depth, age]
