"""API key storage: create, list, rotate, revoke, authenticate."""

import hashlib
import time
from datetime import datetime, timedelta

from sqlalchemy import select, text, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlmodel import col

from app.db.models import ApiKey, Department, Unit
from app.db.types import utcnow
from app.domain import keys
from app.domain.keys import Principal, Role
from app.domain.text import name_key
from app.i18n import _

# Serialises key creation and rotation on PostgreSQL, so two requests cannot both take a free name.
_KEYS_LOCK = 0x61747461696E  # "attain"


class KeyError_(ValueError):
    """A key that cannot be created as asked."""


class KeyNameTaken(KeyError_):
    """An active key already has this name."""


class KeyNotActive(KeyError_):
    """No active key with this id (or it was already rotated)."""


async def _lock(session: AsyncSession) -> None:
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _KEYS_LOCK})


async def _active(session: AsyncSession, now: datetime) -> list[ApiKey]:
    rows = (await session.execute(select(ApiKey).where(col(ApiKey.revoked_at).is_(None)))).scalars()
    return [r for r in rows if keys.is_active(revoked_at=r.revoked_at, expires_at=r.expires_at, now=now)]


async def resolve_department(session: AsyncSession, text: str) -> str | None:
    """A department code from its code, name or alias."""
    key = text.strip()
    for d in (await session.execute(select(Department))).scalars():
        if key in (d.code, d.name_zh, *(d.aliases or [])):
            return d.code
    return None


async def create_key(session: AsyncSession, *, name: str, role: Role, unit_code: str | None,
                     department: str | None = None, expires_at: datetime | None = None,
                     now: datetime | None = None) -> tuple[ApiKey, str]:
    """Store a new key's hash and return the row with the clear token (shown once)."""
    now = now or utcnow()
    department_code = None
    if role == Role.DEPARTMENT and not department:
        raise KeyError_(_("a department key needs --department (a code, name or alias)"))
    if department and role != Role.DEPARTMENT:
        raise KeyError_(_("a {role} key is not bound to a department", role=role.value))
    if department:
        department_code = await resolve_department(session, department)
        if department_code is None:
            raise KeyError_(_("unknown department {department}", department=department))
    if role == Role.DISTRICT and not unit_code:
        raise KeyError_(_("a district key needs --unit"))
    if role != Role.DISTRICT and unit_code and role != Role.ADMIN:
        raise KeyError_(_("a {role} key is not bound to a unit", role=role.value))
    if unit_code and await session.get(Unit, unit_code) is None:
        raise KeyError_(_("unknown unit {unit}", unit=unit_code))
    if expires_at is not None and expires_at <= now:
        raise KeyError_(_("the expiry has already passed"))
    await _lock(session)
    wanted = name_key(name)
    clash = next((k for k in await _active(session, now) if name_key(k.name) == wanted), None)
    if clash is not None:
        raise KeyNameTaken(_("an active key (id {id}) is already named '{name}'; revoke or rotate it", id=clash.id,
                             name=clash.name))
    return await _insert(session, name=name, role=role.value, unit_code=unit_code, department_code=department_code,
                         expires_at=expires_at)


async def _insert(session: AsyncSession, *, name: str, role: str, unit_code: str | None,
                  department_code: str | None, expires_at: datetime | None) -> tuple[ApiKey, str]:
    new = keys.generate()
    row = ApiKey(name=name, role=role, unit_code=unit_code, department_code=department_code, prefix=new.prefix,
                 key_hash=new.key_hash, expires_at=expires_at)
    session.add(row)
    await session.flush()
    return row, new.token


async def rotate(session: AsyncSession, *, key_id: int, grace: timedelta, expires_at: datetime | None = None,
                 now: datetime | None = None) -> tuple[ApiKey, ApiKey, str]:
    """A new key with the old one's name, role and unit; the old one keeps working for `grace` only.

    Returns (old, new, token). The only time two active keys share a name is such a grace period.
    """
    now = now or utcnow()
    await _lock(session)
    old = await session.get(ApiKey, key_id, with_for_update=True)
    if old is None or not keys.is_active(revoked_at=old.revoked_at, expires_at=old.expires_at, now=now):
        raise KeyNotActive(_("no active key {id}", id=key_id))
    if old.replaced_by is not None:
        raise KeyNotActive(_("key {id} was already rotated (to key {new})", id=key_id, new=old.replaced_by))
    if expires_at is not None and expires_at <= now:
        raise KeyError_(_("the expiry has already passed"))
    new, token = await _insert(session, name=old.name, role=old.role, unit_code=old.unit_code,
                               department_code=old.department_code, expires_at=expires_at)
    old.expires_at = keys.rotated_expiry(old.expires_at, now=now, grace=grace)
    old.replaced_by = new.id
    await session.flush()
    return old, new, token


async def _lookup(conn: AsyncConnection, token: str, now: datetime) -> tuple[Principal, bool] | None:
    prefix = keys.split(token)
    if prefix is None:
        return None
    K = ApiKey.__table__  # type: ignore[attr-defined]
    rows = await conn.execute(
        select(K.c.id, K.c.name, K.c.role, K.c.unit_code, K.c.key_hash, K.c.revoked_at, K.c.expires_at,
               K.c.last_used_at, K.c.department_code).where(K.c.prefix == prefix)
    )
    for key_id, name, role, unit_code, key_hash, revoked_at, expires_at, last_used_at, department in rows.all():
        if keys.matches(token, key_hash) and keys.is_active(revoked_at=revoked_at, expires_at=expires_at, now=now):
            found = Principal(key_id=key_id, name=name, role=Role(role), unit_code=unit_code,
                              department_code=department)
            return found, keys.stale_use(last_used_at, now)
    return None


async def authenticate(conn: AsyncConnection, token: str, *, now: datetime | None = None) -> Principal | None:
    """The principal behind a token, or None when unknown, malformed, revoked, expired or rotated out."""
    found = await _lookup(conn, token, now or utcnow())
    return found[0] if found else None


async def authenticate_and_record(engine: AsyncEngine, token: str) -> Principal | None:
    """authenticate() in an autocommit read of its own, then last_used_at in a short transaction of its own
    when the stored one is a minute old or more (so a busy key costs one write a minute, not one per request)."""
    now = utcnow()
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        found = await _lookup(conn, token, now)
    if found is None:
        return None
    principal, stale = found
    if stale:
        K = ApiKey.__table__  # type: ignore[attr-defined]
        # Conditional: concurrent requests of one key write it once.
        stmt = (update(K).where(K.c.id == principal.key_id)
                .where((K.c.last_used_at.is_(None)) | (K.c.last_used_at <= now - keys.LAST_USED_RESOLUTION))
                .values(last_used_at=now))
        async with engine.connect() as conn:
            sqlite = conn.dialect.name == "sqlite"
            if sqlite:  # never wait behind a writer for this: a last use a minute late is no harm
                await conn.exec_driver_sql("PRAGMA busy_timeout=50")
            try:
                await conn.execute(stmt)
                await conn.commit()
            except OperationalError:
                await conn.rollback()  # SQLite busy: the next request of this key writes it
            finally:
                if sqlite:
                    await conn.exec_driver_sql("PRAGMA busy_timeout=10000")
                    await conn.commit()
    return principal


async def principal_by_id(conn: AsyncConnection, key_id: int, *, now: datetime | None = None) -> Principal | None:
    """The principal of a signed-in web session's key, or None once the key is revoked, expired or rotated out
    (the same keys.is_active as bearer calls: a session ends at the next request)."""
    K = ApiKey.__table__  # type: ignore[attr-defined]
    row = (await conn.execute(
        select(K.c.id, K.c.name, K.c.role, K.c.unit_code, K.c.revoked_at, K.c.expires_at, K.c.department_code)
        .where(K.c.id == key_id)
    )).first()
    if row is None or not keys.is_active(revoked_at=row.revoked_at, expires_at=row.expires_at, now=now or utcnow()):
        return None
    return Principal(key_id=row.id, name=row.name, role=Role(row.role), unit_code=row.unit_code,
                     department_code=row.department_code)


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


class PrincipalCache:
    """Recently authenticated tokens, for `ttl` seconds: a busy key is looked up once a second, not per request,
    and a revoked, expired or rotated-out key stops working within `ttl` on every process. Created in the lifespan;
    bounded (the oldest half is dropped when full). Keyed by the token's hash, never the token."""

    def __init__(self, *, ttl: float = 1.0, size: int = 10_000) -> None:
        self._ttl = ttl
        self._size = size
        self._kept: dict[str, tuple[float, Principal]] = {}

    async def authenticate(self, engine: AsyncEngine, token: str) -> Principal | None:
        digest = hashlib.sha256(token.encode()).hexdigest()
        now = time.monotonic()
        kept = self._kept.get(digest)
        if kept is not None and now - kept[0] < self._ttl:
            return kept[1]
        found = await authenticate_and_record(engine, token)
        if found is None:
            self._kept.pop(digest, None)
            return None
        if len(self._kept) >= self._size:
            for old in list(self._kept)[: self._size // 2]:
                del self._kept[old]
        self._kept[digest] = (now, found)
        return found
