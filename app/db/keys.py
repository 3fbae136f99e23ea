"""API key storage: create, list, revoke, authenticate."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlmodel import col

from app.db.models import ApiKey, Department, Unit
from app.db.types import utcnow
from app.domain import keys
from app.domain.keys import Principal, Role


class KeyError_(ValueError):
    """A key that cannot be created as asked."""


async def resolve_department(session: AsyncSession, text: str) -> str | None:
    """A department code from its code, name or alias."""
    key = text.strip()
    for d in (await session.execute(select(Department))).scalars():
        if key in (d.code, d.name_zh, *(d.aliases or [])):
            return d.code
    return None


async def create_key(
    session: AsyncSession, *, name: str, role: Role, unit_code: str | None, department: str | None = None
) -> tuple[ApiKey, str]:
    """Store a new key's hash and return the row with the clear token (shown once)."""
    department_code = None
    if role == Role.DEPARTMENT and not department:
        raise KeyError_("a department key needs --department (a code, name or alias)")
    if department and role != Role.DEPARTMENT:
        raise KeyError_(f"a {role} key is not bound to a department")
    if department:
        department_code = await resolve_department(session, department)
        if department_code is None:
            raise KeyError_(f"unknown department {department}")
    if role == Role.DISTRICT and not unit_code:
        raise KeyError_("a district key needs --unit")
    if role != Role.DISTRICT and unit_code and role != Role.ADMIN:
        raise KeyError_(f"a {role} key is not bound to a unit")
    if unit_code and await session.get(Unit, unit_code) is None:
        raise KeyError_(f"unknown unit {unit_code}")
    new = keys.generate()
    row = ApiKey(name=name, role=role.value, unit_code=unit_code, department_code=department_code, prefix=new.prefix,
                 key_hash=new.key_hash)
    session.add(row)
    await session.flush()
    return row, new.token


async def authenticate(conn: AsyncConnection, token: str) -> Principal | None:
    """The principal behind a token, or None when unknown, malformed or revoked."""
    prefix = keys.split(token)
    if prefix is None:
        return None
    K = ApiKey.__table__  # type: ignore[attr-defined]
    rows = await conn.execute(
        select(K.c.id, K.c.name, K.c.role, K.c.unit_code, K.c.key_hash, K.c.revoked_at, K.c.department_code)
        .where(K.c.prefix == prefix)
    )
    for key_id, name, role, unit_code, key_hash, revoked_at, department_code in rows:
        if keys.matches(token, key_hash) and revoked_at is None:
            return Principal(key_id=key_id, name=name, role=Role(role), unit_code=unit_code,
                             department_code=department_code)
    return None


async def list_keys(session: AsyncSession) -> list[ApiKey]:
    """Every key, newest last."""
    return list((await session.execute(select(ApiKey).order_by(col(ApiKey.id)))).scalars())


async def revoke(session: AsyncSession, *, key_id: int | None = None, name: str | None = None) -> int:
    """Revoke keys by id or name; returns how many were revoked."""
    stmt = select(ApiKey).where(col(ApiKey.revoked_at).is_(None))
    stmt = stmt.where(col(ApiKey.id) == key_id) if key_id is not None else stmt.where(col(ApiKey.name) == name)
    rows = (await session.execute(stmt)).scalars().all()
    for row in rows:
        row.revoked_at = utcnow()
    await session.flush()
    return len(rows)


async def count_keys(session: AsyncSession) -> int:
    """How many keys exist, revoked or not."""
    return len((await session.execute(select(col(ApiKey.id)))).all())
