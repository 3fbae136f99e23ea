"""GET /metrics for Prometheus."""

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from app import metrics
from app.api.deps import Catalogs, SessionDep, bearer, principal, require
from app.domain.catalog import CITY
from app.domain.keys import METRICS_ROLES
from app.i18n import _
from app.services import deliverable_metrics, instruction_metrics, reminder_metrics, scrape

router = APIRouter(tags=["metrics"])
_allowed = require(METRICS_ROLES, _("read metrics"))


@router.get("/metrics", response_class=Response, dependencies=[Depends(bearer)],
            responses={200: {"content": {"text/plain": {}}}, 401: {}, 403: {}})
async def metrics_endpoint(request: Request, session: SessionDep, catalogs: Catalogs) -> Response:
    """Prometheus exposition; store-derived gauges are read fresh on every scrape."""
    if not request.app.state.settings.metrics_public:
        await _allowed(await principal(request))
    catalog = await catalogs.snapshot(session)
    metrics.ensure_ingest_series([CITY, *catalog.children.get(CITY, [])])
    families = [*await scrape.collect(session, catalog), *await deliverable_metrics.collect(session),
                *await instruction_metrics.collect(session, catalog), *await reminder_metrics.collect(session),
                *scrape.rollup_families(request.state.backlog)]
    return Response(metrics.exposition(families), media_type=CONTENT_TYPE_LATEST)
