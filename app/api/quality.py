"""Data-quality flags: list them with the figures compared, confirm one with a note."""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from app.api.deps import Catalogs, Id, Reader, SessionDep, WriteSessionDep
from app.db import quality as store
from app.db.models import QualityFlag
from app.domain.catalog import Catalog
from app.domain.text import clean_note, filled
from app.services import quality as service
from app.services.catalog import indicator_or_404, unit_code_or_422

router = APIRouter(tags=["quality"])


class FlagRead(BaseModel):
    id: int
    indicator: str
    unit: str
    unit_name: str
    year: int
    code: str = Field(description="outlier_yoy or outlier_peers")
    state: str = Field(description="open, confirmed or cleared (the value changed and no longer looks odd)")
    value: float
    figures: dict[str, Any] = Field(description="what was compared: previous value and change, or peers' mean/sd/z")
    note: str | None
    confirmed_by: str | None
    updated_at: str


class ConfirmBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: Annotated[str, AfterValidator(clean_note), AfterValidator(filled), Field(min_length=1, max_length=1000)]


def _read(cat: Catalog, f: QualityFlag) -> FlagRead:
    unit = cat.units.get(f.unit_code)
    return FlagRead(id=f.id or 0, indicator=f.indicator_code, unit=f.unit_code,
                    unit_name=unit.name if unit else f.unit_code, year=f.year, code=f.code, state=f.state,
                    value=f.value, figures=f.figures, note=f.note, confirmed_by=f.confirmed_by,
                    updated_at=f.updated_at.isoformat())


@router.get("/quality", response_model=list[FlagRead], responses={404: {}, 422: {}})
async def listing(
    session: SessionDep, catalogs: Catalogs, _caller: Reader,
    indicator: str | None = Query(default=None, max_length=64),
    unit: str | None = Query(default=None, max_length=64, description="This unit and the units below it"),
    year: int | None = Query(default=None, ge=1900, le=2100),
    state: Literal["open", "confirmed", "cleared"] | None = None,
) -> list[FlagRead]:
    """Quality flags on yearly values, with the figures compared."""
    cat = await catalogs.snapshot(session)
    if indicator is not None:
        indicator_or_404(cat, indicator)
    units = cat.subtree(unit_code_or_422(cat, unit)) if unit else None
    return [_read(cat, f) for f in await store.listing(session, indicator=indicator, units=units, year=year,
                                                       state=state)]


@router.post("/quality/{flag_id}/confirm", response_model=FlagRead, responses={403: {}, 404: {}, 409: {}, 422: {}})
async def confirm(flag_id: Id, body: ConfirmBody, session: WriteSessionDep, catalogs: Catalogs, caller: Reader
                  ) -> FlagRead:
    """The value is right: the unit's district, a reviewer or an admin confirms the flag with a note."""
    cat = await catalogs.snapshot(session)
    return _read(cat, await service.confirm(session, cat, flag_id, body.note, caller))
