"""Outbound channels (admin): add, list, replace (re-entering the secret), remove, and their delivery attempts."""

from typing import Any

from fastapi import APIRouter, Request, Response

from app.api.deps import Admin, Catalogs, Id, SessionDep, WriteSessionDep, author
from app.schemas.notifications import AttemptRead, ChannelRead, ChannelWrite
from app.services import channels as service

router = APIRouter(tags=["notifications"])
_ERRORS: dict[int | str, dict[str, Any]] = {403: {}, 404: {}, 422: {}}


@router.post("/channels", status_code=201, response_model=ChannelRead, responses=_ERRORS)
async def create(body: ChannelWrite, request: Request, session: WriteSessionDep, catalogs: Catalogs,
                 caller: Admin) -> ChannelRead:
    """Add a channel for a department, a unit or a role; the answer never carries the secret."""
    cat = await catalogs.snapshot(session)
    return await service.create(session, cat, body, by=author(request, caller))


@router.get("/channels", response_model=list[ChannelRead], responses=_ERRORS)
async def listing(session: SessionDep, caller: Admin) -> list[ChannelRead]:
    """Every channel, broken ones flagged with the reason their receiver gave."""
    return await service.listing(session)


@router.get("/channels/{channel_id}/attempts", response_model=list[AttemptRead], responses=_ERRORS)
async def attempts(channel_id: Id, session: SessionDep, caller: Admin) -> list[AttemptRead]:
    """Every delivery attempt through the channel, oldest first."""
    return await service.attempts(session, channel_id)


@router.put("/channels/{channel_id}", response_model=ChannelRead, responses=_ERRORS)
async def replace(channel_id: Id, body: ChannelWrite, request: Request, session: WriteSessionDep,
                  catalogs: Catalogs, caller: Admin) -> ChannelRead:
    """Replace a channel (the secret re-entered); a broken channel is live again and sends what it held."""
    cat = await catalogs.snapshot(session)
    return await service.replace(session, cat, channel_id, body, by=author(request, caller))


@router.delete("/channels/{channel_id}", status_code=204, responses=_ERRORS)
async def remove(channel_id: Id, request: Request, session: WriteSessionDep, caller: Admin) -> Response:
    """Remove a channel; what it had not sent yet is dropped."""
    await service.remove(session, channel_id, by=author(request, caller))
    return Response(status_code=204)
