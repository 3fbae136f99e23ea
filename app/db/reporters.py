"""Who must report each indicator and how complete a parent must be (as they stand now, or as they stood at
`as_of`, rebuilt from the indicators' revisions). Whether a unit's own periods cover their year is kept with its
yearly row (db.yearly)."""

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import CatalogRevision, Measurement
from app.domain.catalog import Catalog
from app.domain.completeness import Scope, scope_of, units_by_level

M = Measurement.__table__  # type: ignore[attr-defined]
Cell = tuple[str, str, int]


async def scopes(session: AsyncSession, catalog: Catalog, *, as_of: datetime | None) -> dict[str, Scope]:
    """Each indicator's Scope now, or at `as_of`."""
    by_level = units_by_level(catalog)
    if as_of is None:
        return {code: scope_of(catalog, {"reporters": i.reporters, "level": i.level,
                                         "min_completeness": i.min_completeness}, by_level)
                for code, i in catalog.indicators.items()}
    R = CatalogRevision.__table__  # type: ignore[attr-defined]
    ranked = (
        select(R.c.entity_key, R.c.data, func.row_number().over(partition_by=R.c.entity_key, order_by=R.c.id.desc())
               .label("rn"))
        .where(R.c.entity == "indicator", R.c.recorded_at <= as_of)
        .subquery()
    )
    states = {key: data for key, data in await session.execute(
        select(ranked.c.entity_key, ranked.c.data).where(ranked.c.rn == 1)) if data}
    out = {}
    for code, i in catalog.indicators.items():
        state = states.get(code) or {"level": i.level}
        out[code] = scope_of(catalog, state, by_level)
    return out
