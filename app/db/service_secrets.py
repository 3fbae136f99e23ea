"""Secrets the service generates once and keeps in the database, so every worker and replica agrees on them."""

import secrets

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.models import ServiceSecret
from app.db.types import utcnow

S = ServiceSecret.__table__  # type: ignore[attr-defined]


async def _read(engine: AsyncEngine, name: str) -> str | None:
    async with engine.connect() as conn:
        found = (await conn.execute(select(S.c.value).where(S.c.name == name))).scalar()
        await conn.rollback()
    return None if found is None else str(found)


async def get_or_create(engine: AsyncEngine, name: str) -> str:
    """The stored secret `name`, created on first use; concurrent first uses agree on one value."""
    found = await _read(engine, name)
    if found is not None:
        return found
    try:
        async with engine.begin() as conn:
            await conn.execute(S.insert().values(name=name, value=secrets.token_urlsafe(48), created_at=utcnow()))
    except IntegrityError:
        pass  # another worker created it first: read theirs
    found = await _read(engine, name)
    assert found is not None
    return found
