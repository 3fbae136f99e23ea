"""Admin management of API keys over HTTP (the CLI does the same locally)."""

from datetime import datetime, timedelta

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from app.api.deps import Admin, Id, WriteSessionDep
from app.db import keys as key_store
from app.db.models import ApiKey
from app.db.types import utcnow
from app.domain.keys import Role, is_active, parse_expiry
from app.errors import Conflict, NotFound, Unprocessable
from app.i18n import _, message_of
from app.schemas.catalog import Label, Line

router = APIRouter(tags=["admin"])

_EXPIRES = Field(default=None, min_length=10, max_length=40,
                 description="A date (valid through that day, Asia/Shanghai) or an RFC 3339 instant; none: no expiry")


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role
    name: Label = Field(min_length=1, max_length=100)
    unit: Line | None = Field(default=None, min_length=1, max_length=32)
    department: Line | None = Field(default=None, min_length=1, max_length=100,
                                    description="A department key's 处室: code, name or alias")
    expires: Line | None = _EXPIRES


class KeyRotate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    expires: Line | None = _EXPIRES


class KeyRead(BaseModel):
    id: int
    name: str
    role: str
    unit: str | None
    department: str | None = None
    prefix: str
    revoked: bool
    active: bool = Field(description="Authenticates now: not revoked, not expired, not past a rotation's grace")
    created_at: datetime
    last_used_at: datetime | None = Field(description="To the minute: written at most once a minute")
    expires_at: datetime | None
    replaced_by: int | None = Field(description="The key that replaced this one by rotation")


class KeyCreated(KeyRead):
    key: str = Field(description="Shown once; only its hash is stored")


def key_read(r: ApiKey, now: datetime) -> KeyRead:
    return KeyRead(id=r.id or 0, name=r.name, role=r.role, unit=r.unit_code, department=r.department_code,
                   prefix=r.prefix,
                   revoked=r.revoked_at is not None,
                   active=is_active(revoked_at=r.revoked_at, expires_at=r.expires_at, now=now),
                   created_at=r.created_at, last_used_at=r.last_used_at, expires_at=r.expires_at,
                   replaced_by=r.replaced_by)


def _expiry(text: str | None, now: datetime) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_expiry(text, now=now)
    except ValueError as exc:
        raise Unprocessable(message_of(exc), errors=[{"location": "body.expires", "message": str(exc)}]) from None


@router.post("/keys", status_code=201, responses={409: {"description": "An active key has this name"}, 422: {}})
async def create_key(body: KeyCreate, session: WriteSessionDep, _caller: Admin) -> KeyCreated:
    """Create a key; the answer is the only time it is shown. Names are unique among active keys."""
    now = utcnow()
    try:
        row, token = await key_store.create_key(session, name=body.name, role=body.role, unit_code=body.unit,
                                                department=body.department, expires_at=_expiry(body.expires, now),
                                                now=now)
    except key_store.KeyNameTaken as exc:
        raise Conflict(message_of(exc), code="key_name_taken") from None
    except key_store.KeyError_ as exc:
        raise Unprocessable(message_of(exc)) from None
    return KeyCreated(**key_read(row, now).model_dump(), key=token)


@router.post("/keys/{key_id}/rotate", status_code=201, responses={404: {}, 422: {}})
async def rotate_key(key_id: Id, request: Request, session: WriteSessionDep, _caller: Admin,
                     body: KeyRotate | None = None) -> KeyCreated:
    """A new key of the same name, role, unit and department; the old one keeps working for the grace period only."""
    now = utcnow()
    grace = timedelta(hours=request.app.state.settings.key_rotation_grace_hours)
    try:
        _old, new, token = await key_store.rotate(session, key_id=key_id, grace=grace, now=now,
                                                  expires_at=_expiry(body.expires if body else None, now))
    except key_store.KeyNotActive as exc:
        raise NotFound(message_of(exc)) from None
    except key_store.KeyError_ as exc:
        raise Unprocessable(message_of(exc)) from None
    return KeyCreated(**key_read(new, now).model_dump(), key=token)


@router.get("/keys")
async def list_keys(session: WriteSessionDep, _caller: Admin) -> list[KeyRead]:
    """Every key (never the key itself)."""
    now = utcnow()
    return [key_read(r, now) for r in await key_store.list_keys(session)]


@router.delete("/keys/{key_id}", status_code=204, responses={404: {}})
async def revoke_key(key_id: Id, session: WriteSessionDep, _caller: Admin) -> Response:
    """Revoke a key at once."""
    if await key_store.revoke(session, key_id=key_id) == 0:
        raise NotFound(_("No active key {id}.", id=key_id))
    return Response(status_code=204)
