"""Admin management of API keys over HTTP (the CLI does the same locally)."""

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from app.api.deps import Admin, Id, WriteSessionDep
from app.db import keys as key_store
from app.domain.keys import Role
from app.errors import NotFound, Unprocessable
from app.schemas.catalog import Text

router = APIRouter(tags=["admin"])


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role
    name: Text = Field(min_length=1, max_length=100)
    unit: Text | None = Field(default=None, min_length=1, max_length=32)
    department: Text | None = Field(default=None, min_length=1, max_length=100,
                                    description="A department key's 处室: code, name or alias")


class KeyRead(BaseModel):
    id: int
    name: str
    role: str
    unit: str | None
    department: str | None = None
    prefix: str
    revoked: bool


class KeyCreated(KeyRead):
    key: str = Field(description="Shown once; only its hash is stored")


@router.post("/keys", status_code=201, responses={422: {}})
async def create_key(body: KeyCreate, session: WriteSessionDep, _: Admin) -> KeyCreated:
    """Create a key; the answer is the only time it is shown."""
    try:
        row, token = await key_store.create_key(session, name=body.name, role=body.role, unit_code=body.unit,
                                                department=body.department)
    except key_store.KeyError_ as exc:
        raise Unprocessable(str(exc)) from None
    assert row.id is not None
    return KeyCreated(id=row.id, name=row.name, role=row.role, unit=row.unit_code, department=row.department_code,
                      prefix=row.prefix, revoked=False, key=token)


@router.get("/keys")
async def list_keys(session: WriteSessionDep, _: Admin) -> list[KeyRead]:
    """Every key (never the key itself)."""
    return [KeyRead(id=r.id or 0, name=r.name, role=r.role, unit=r.unit_code, department=r.department_code,
                    prefix=r.prefix,
                    revoked=r.revoked_at is not None) for r in await key_store.list_keys(session)]


@router.delete("/keys/{key_id}", status_code=204, responses={404: {}})
async def revoke_key(key_id: Id, session: WriteSessionDep, _: Admin) -> Response:
    """Revoke a key at once."""
    if await key_store.revoke(session, key_id=key_id) == 0:
        raise NotFound(f"No active key {key_id}.")
    return Response(status_code=204)
