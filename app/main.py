"""create_app(): lifespan resources, routers, error handlers, middleware — nothing else."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app import logs, metrics, openapi
from app.api import (
    admin,
    attainment,
    catalog,
    channels,
    completeness,
    deliverables,
    department_scorecard,
    health,
    instructions,
    keys,
    measurements,
    notifications,
    quality,
    reviews,
    scorecard,
    supervision,
    templates,
)
from app.api import metrics as metrics_api
from app.db.catalog import CatalogCache
from app.db.engine import create_engine, create_session_factory
from app.db.keys import PrincipalCache
from app.domain.channels import ChannelKind, Result
from app.domain.reminders import KINDS
from app.errors import install_error_handlers
from app.guards import InputGuard
from app.metrics import ensure_reminder_series
from app.middleware import ETags, Language, RequestContext
from app.services import rollup
from app.services.background import Loops
from app.services.uploads import UploadParser
from app.settings import Settings, get_settings
from app.web.install import install as install_web

API = "/api/v1"


def create_app(settings: Settings | None = None) -> FastAPI:
    """The ASGI application."""
    settings = settings or get_settings()
    logs.configure(level=settings.log_level, json=settings.log_json)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings)
        app.state.settings = settings
        app.state.engine = engine
        app.state.sessions = create_session_factory(engine)
        app.state.write_sessions = create_session_factory(engine, write=True)
        app.state.catalogs = CatalogCache()
        app.state.principals = PrincipalCache(ttl=settings.key_cache_seconds)
        app.state.uploads = UploadParser(workers=settings.xlsx_parse_workers, seconds=settings.xlsx_parse_seconds,
                                         memory_bytes=settings.xlsx_parse_memory_bytes)
        app.state.rollup = rollup.Worker(app.state.write_sessions, app.state.catalogs,
                                         interval=settings.rollup_interval_seconds,
                                         debounce=settings.rollup_debounce_seconds, paused=settings.rollup_paused,
                                         observe=metrics.ROLLUP_DURATION.observe, read_sessions=app.state.sessions)
        app.state.rollup.start()
        ensure_reminder_series(KINDS, [k.value for k in ChannelKind], [r.value for r in Result])
        app.state.loops = Loops(settings, app.state.write_sessions)
        if settings.remind_enabled:
            app.state.loops.start()
        try:
            yield
        finally:
            await app.state.loops.stop()
            await app.state.rollup.stop()
            app.state.uploads.close()
            await engine.dispose()

    app = FastAPI(
        title="attain",
        summary="Targets, district submissions and attainment of Qingdao's Ten Action Plans",
        version="0.1.0",
        lifespan=lifespan,
        # Served by app.web.docs with local assets (no CDN).
        docs_url=None,
        redoc_url=None,
    )
    install_error_handlers(app)
    openapi.install(app)
    app.add_middleware(ETags)
    app.add_middleware(InputGuard, body_timeout=settings.body_timeout_seconds)
    # Outside the guard, so that its refusals are worded in the request's language too.
    app.add_middleware(Language, default=settings.default_lang)
    app.add_middleware(RequestContext, api_prefix=API)
    app.include_router(health.router)
    app.include_router(metrics_api.router)
    app.include_router(catalog.router, prefix=API)
    app.include_router(admin.router, prefix=API)
    app.include_router(measurements.router, prefix=API)
    app.include_router(templates.router, prefix=API)
    app.include_router(attainment.router, prefix=API)
    app.include_router(completeness.router, prefix=API)
    app.include_router(deliverables.router, prefix=API)
    app.include_router(supervision.router, prefix=API)
    app.include_router(scorecard.router, prefix=API)
    app.include_router(reviews.router, prefix=API)
    app.include_router(quality.router, prefix=API)
    app.include_router(keys.router, prefix=API)
    app.include_router(notifications.router, prefix=API)
    app.include_router(channels.router, prefix=API)
    app.include_router(instructions.router, prefix=API)
    app.include_router(department_scorecard.router, prefix=API)
    install_web(app)
    return app
