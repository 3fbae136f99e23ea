"""Channels: admin adds, replaces and removes them; secrets go in and never come out (SPEC "Channels")."""

import urllib.parse
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app import clock
from app.db import channels as store
from app.db import outbox as outbox_store
from app.domain.audit import Author
from app.domain.catalog import Catalog
from app.domain.keys import Role
from app.errors import NotFound, Unprocessable
from app.i18n import _
from app.schemas.notifications import AttemptRead, ChannelRead, ChannelWrite
from app.services.catalog import department_or_422, unit_code_or_422


def _check_url(url: str) -> str:
    # Only http and https, with a host: no file:, no gopher:, nothing a robot URL never is.
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Unprocessable(_("A channel's URL must be an http or https address."), code="channel_url",
                            errors=[{"location": "body.url", "message": "http or https URL required"}])
    return url.strip()


def values_of(catalog: Catalog, body: ChannelWrite) -> dict[str, Any]:
    """The stored columns of a channel body, its one target resolved; 422 otherwise."""
    targets = [t for t in (body.department, body.unit, body.role) if t]
    if len(targets) != 1:
        raise Unprocessable(_("A channel is for exactly one of a department, a unit or a role."),
                            code="channel_target",
                            errors=[{"location": "body", "message": "give one of department, unit, role"}])
    role = None
    if body.role:
        if body.role not in {r.value for r in Role}:
            raise Unprocessable(_("Unknown role '{role}'.", role=body.role[:16]), code="unknown_role",
                                errors=[{"location": "body.role", "message": "unknown role"}])
        role = body.role
    return {"kind": body.kind, "url": _check_url(body.url),
            "department_code": department_or_422(catalog, body.department) if body.department else None,
            "unit_code": unit_code_or_422(catalog, body.unit, location="body.unit") if body.unit else None,
            "role": role}


def read(row: Any, secret: bool) -> ChannelRead:
    return ChannelRead(id=row.id, kind=row.kind, url=row.url, has_secret=secret, department=row.department_code,
                       unit=row.unit_code, role=row.role, broken=row.broken, broken_reason=row.broken_reason,
                       created_at=row.created_at, updated_at=row.updated_at)


async def one(session: AsyncSession, channel_id: int) -> ChannelRead:
    row = await store.get(session, channel_id)
    if row is None:
        raise NotFound(_("No channel {id}.", id=channel_id), code="unknown_channel")
    return read(row, channel_id in await store.has_secret(session, [channel_id]))


async def listing(session: AsyncSession) -> list[ChannelRead]:
    rows = await store.listing(session)
    secrets = await store.has_secret(session, [r.id for r in rows])
    return [read(r, r.id in secrets) for r in rows]


async def create(session: AsyncSession, catalog: Catalog, body: ChannelWrite, *, by: Author) -> ChannelRead:
    new_id = await store.create(session, values_of(catalog, body), body.secret, by=by, now=clock.now())
    return await one(session, new_id)


async def replace(session: AsyncSession, catalog: Catalog, channel_id: int, body: ChannelWrite, *, by: Author
                  ) -> ChannelRead:
    await one(session, channel_id)
    await store.replace(session, channel_id, values_of(catalog, body), body.secret, by=by, now=clock.now())
    return await one(session, channel_id)


async def remove(session: AsyncSession, channel_id: int, *, by: Author) -> None:
    await one(session, channel_id)
    await store.remove(session, channel_id, by=by, now=clock.now())


async def attempts(session: AsyncSession, channel_id: int) -> list[AttemptRead]:
    await one(session, channel_id)
    return [AttemptRead(notification_id=r.notification_id, try_no=r.try_no, result=r.result,
                        http_status=r.http_status, errcode=r.errcode, error=r.error, digest=r.digest, at=r.at)
            for r in await outbox_store.attempts(session, channel_id=channel_id)]
