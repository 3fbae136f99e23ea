"""Withdrawing a stored value: authorise, flag it deleted with a revision, mark its cell for the roll-up."""

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.db import locks, measurements, write
from app.db.models import Measurement
from app.db.types import utcnow
from app.domain.audit import Author
from app.domain.catalog import Catalog
from app.domain.keys import Principal
from app.domain.periods import parse_period
from app.errors import Forbidden, NotFound
from app.i18n import _
from app.services.locking import lock_keys, refuse_locked_delete
from app.services.submissions import authorise, resolve_unit


async def delete_value(
    session: AsyncSession,
    catalog: Catalog,
    caller: Principal,
    key: tuple[str, str, str],
    *,
    now: datetime,
    request_id: str | None,
    client_request_id: str | None = None,
) -> Measurement:
    """Withdraw the live value at (indicator, unit, period); 403 outside the key's subtree, 404 if none."""
    try:
        authorise(catalog, caller, [resolve_unit(catalog, key[1])])
    except Forbidden:
        raise Forbidden(_("This key cannot delete values of unit {unit}.", unit=key[1])) from None
    period = parse_period(key[2])
    cell = (key[0], key[1], period.end.year)
    known = key[1] in catalog.units
    await locks.for_write(session, [cell], lock_keys(catalog, {(key[1], cell[2])}) if known else set())
    if known:
        await refuse_locked_delete(session, catalog, key[1], period.year)
    found = await measurements.delete(session, key=key, now=now)
    if found is None:
        raise NotFound(_("No current value for {indicator} / {unit} / {period}.", indicator=key[0], unit=key[1],
                         period=key[2]))
    row, revision = found
    by = Author.of(caller, request_id=request_id, client_request_id=client_request_id)
    await write.store(session, write.Change(values=[], revisions=[revision], cells={cell}, flows=False), by=by,
                      stamp=max(utcnow(), now), now=now, receipt=None, answer=None)
    return row
