"""Admin edits of the catalog: indicators, targets and units (the rules are in services.catalog_admin)."""

from fastapi import APIRouter, Query, Request, Response

from app.api.catalog import indicator_read, target_read
from app.api.deps import Admin, Catalogs, Id, Reader, SessionDep, WriteSessionDep, author
from app.db import catalog as q
from app.db import revisions
from app.domain.keys import Principal
from app.schemas.catalog import (
    IndicatorCreate,
    IndicatorDetail,
    IndicatorUpdate,
    ReportersUpdate,
    RevisionRead,
    TargetCreate,
    TargetRead,
    TargetUpdate,
    UnitCreate,
    UnitRead,
)
from app.services import catalog_admin as edits

router = APIRouter(tags=["admin"])


def _by(request: Request, caller: Principal) -> edits.Editor:
    return author(request, caller)


@router.post("/indicators", status_code=201, responses={409: {"description": "Code exists"}})
async def create_indicator(
    body: IndicatorCreate, request: Request, session: WriteSessionDep, catalogs: Catalogs, caller: Admin
) -> IndicatorDetail:
    """Add an indicator (e.g. for the next five-year plan)."""
    cat = await catalogs.snapshot(session)
    ind = await edits.create_indicator(session, cat, body, by=_by(request, caller))
    return IndicatorDetail(**indicator_read(cat, ind).model_dump(), targets=[])


@router.patch("/indicators/{code}", responses={404: {"description": "No such indicator"}})
async def update_indicator(
    code: str, body: IndicatorUpdate, request: Request, session: WriteSessionDep, catalogs: Catalogs, caller: Admin
) -> IndicatorDetail:
    """Change an indicator's names, unit, measure, bounds or frequency."""
    cat = await catalogs.snapshot(session)
    ind = await edits.update_indicator(session, catalogs, code, body, by=_by(request, caller))
    return IndicatorDetail(
        **indicator_read(cat, ind).model_dump(),
        targets=[target_read(t) for t in await q.targets(session, indicator=code)],
    )


@router.put("/indicators/{code}/reporters", responses={404: {}, 422: {}})
async def put_reporters(
    code: str, body: ReportersUpdate, request: Request, session: WriteSessionDep, catalogs: Catalogs, caller: Admin
) -> IndicatorDetail:
    """Set who must report an indicator (units by code, name or alias); `null` restores its level's default."""
    cat = await catalogs.snapshot(session)
    ind = await edits.set_reporters(session, cat, code, body, by=_by(request, caller))
    return IndicatorDetail(
        **indicator_read(cat, ind).model_dump(),
        targets=[target_read(t) for t in await q.targets(session, indicator=code)],
    )


@router.post("/indicators/{code}/targets", status_code=201, responses={404: {}, 409: {}, 422: {}})
async def create_target(
    code: str, body: TargetCreate, request: Request, session: WriteSessionDep, catalogs: Catalogs, caller: Admin
) -> TargetRead:
    """Add a target to an indicator."""
    cat = await catalogs.snapshot(session)
    return target_read(await edits.create_target(session, cat, code, body, by=_by(request, caller)))


@router.patch("/targets/{target_id}", responses={404: {}, 409: {}})
async def update_target(
    target_id: Id, body: TargetUpdate, request: Request, session: WriteSessionDep, caller: Admin
) -> TargetRead:
    """Change a target's threshold, year, window, baseline or note."""
    return target_read(await edits.update_target(session, target_id, body, by=_by(request, caller)))


@router.delete("/targets/{target_id}", status_code=204, responses={404: {}})
async def delete_target(target_id: Id, request: Request, session: WriteSessionDep, caller: Admin) -> Response:
    """Remove a target; its revisions remain, so past reports still show it."""
    await edits.delete_target(session, target_id, by=_by(request, caller))
    return Response(status_code=204)


@router.post("/units", status_code=201, responses={409: {}, 422: {}})
async def create_unit(
    body: UnitCreate, request: Request, session: WriteSessionDep, catalogs: Catalogs, caller: Admin
) -> UnitRead:
    """Add a unit (a school, usually) under an existing unit."""
    cat = await catalogs.snapshot(session)
    u = await edits.create_unit(session, cat, body, by=_by(request, caller))
    return UnitRead(code=u.code, name=u.name, name_en=u.name_en, parent=u.parent_code, level=u.level,
                    aliases=u.aliases)


@router.get("/catalog/revisions")
async def catalog_revisions(
    session: SessionDep,
    _caller: Reader,
    entity: str | None = Query(default=None, pattern="^(indicator|target|unit)$"),
    key: str | None = Query(default=None, max_length=200),
) -> list[RevisionRead]:
    """Every recorded change to indicators, targets and units."""
    return [
        RevisionRead(id=r.id or 0, entity=r.entity, key=r.entity_key, action=r.action, data=r.data, old=r.old,
                     key_name=r.key_name, request_id=r.request_id, key_id=r.key_id,
                     client_request_id=r.client_request_id, recorded_at=r.recorded_at.isoformat())
        for r in await revisions.history(session, entity=entity, key=key)
    ]
