"""Liveness and readiness."""

import asyncio

from fastapi import APIRouter, Request
from sqlalchemy import text

from app.errors import ServiceUnavailable
from app.i18n import _

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Database unreachable"}})
async def readyz(request: Request) -> dict[str, str]:
    """The database answers within two seconds."""
    try:
        async with asyncio.timeout(2):
            async with request.app.state.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure to reach the database means not ready
        raise ServiceUnavailable(_("Database unreachable: {error}.", error=type(exc).__name__)) from None
    return {"status": "ready"}
