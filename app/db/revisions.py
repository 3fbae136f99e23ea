"""Catalog revisions: every change to an indicator, target or unit, with the state after it."""

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.db.models import CatalogRevision, Indicator, Target, Unit


def indicator_state(i: Indicator) -> dict[str, Any]:
    return i.model_dump()


def target_state(t: Target) -> dict[str, Any]:
    return t.model_dump()


def unit_state(u: Unit) -> dict[str, Any]:
    return u.model_dump()


def record(
    session: AsyncSession,
    *,
    entity: str,
    key: str,
    action: str,
    data: dict[str, Any] | None,
    old: dict[str, Any] | None,
    key_name: str,
    request_id: str | None,
    key_id: int | None = None,
    client_request_id: str | None = None,
) -> None:
    """Append one revision in the caller's transaction."""
    session.add(
        CatalogRevision(
            entity=entity, entity_key=key, action=action, data=data, old=old, key_name=key_name,
            request_id=request_id, key_id=key_id, client_request_id=client_request_id,
        )
    )


async def history(session: AsyncSession, *, entity: str | None, key: str | None) -> list[CatalogRevision]:
    """Revisions, oldest first, optionally of one entity or one key."""
    stmt = select(CatalogRevision).order_by(col(CatalogRevision.id))
    if entity:
        stmt = stmt.where(col(CatalogRevision.entity) == entity)
    if key:
        stmt = stmt.where(col(CatalogRevision.entity_key) == key)
    return list((await session.execute(stmt)).scalars())
