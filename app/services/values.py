"""Withdrawing a stored value: authorise, flag it deleted with a revision, keep the yearly totals exact."""

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.db import measurements
from app.db.models import Measurement
from app.domain.catalog import Catalog
from app.domain.keys import Principal
from app.domain.periods import parse_period
from app.errors import Forbidden, NotFound
from app.services.submissions import authorise, keep_totals, lock_reviews, owns_after, resolve_unit


async def delete_value(
    session: AsyncSession,
    catalog: Catalog,
    caller: Principal,
    key: tuple[str, str, str],
    *,
    now: datetime,
    request_id: str | None,
) -> Measurement:
    """Withdraw the live value at (indicator, unit, period); 403 outside the key's subtree, 404 if none."""
    try:
        authorise(catalog, caller, [resolve_unit(catalog, key[1])])
    except Forbidden:
        raise Forbidden(f"This key cannot delete values of unit {key[1]}.") from None
    cell = (key[0], key[1], parse_period(key[2]).end.year)
    await lock_reviews(session, catalog, {cell})
    await measurements.lock_cells(session, [cell])
    stored = await measurements.in_cells(session, [cell])
    found = await measurements.delete(session, key=key, now=now)
    if found is None:
        raise NotFound(f"No current value for {key[0]} / {key[1]} / {key[2]}.")
    row, revision = found
    await keep_totals(session, catalog, owns_after(catalog, stored, deleted=[key]), [revision],
                      key_name=caller.name, request_id=request_id, now=now)
    return row
