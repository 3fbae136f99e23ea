"""Review and locking of (unit, year) datasets: submit, approve, return, unlock, list with history."""

from typing import Any, Literal

from fastapi import APIRouter, Query, Request, Response

from app.api.deps import Catalogs, Id, Reader, SessionDep, WriteSessionDep
from app.api.replay import IdempotencyKey, idempotently
from app.db import reviews as store
from app.db.models import Review
from app.domain.catalog import Catalog
from app.domain.review import Action
from app.errors import NotFound
from app.i18n import _
from app.schemas.reviews import EventRead, ReturnBody, ReviewCreate, ReviewNote, ReviewRead, UnlockBody
from app.services import reviews as service
from app.services.catalog import unit_code_or_422

router = APIRouter(tags=["reviews"])
_ERRORS: dict[int | str, dict[str, Any]] = {403: {}, 404: {}, 409: {"description": "Not allowed from this state"},
                                            422: {}}


def _actor(request: Request, caller: Any) -> service.Actor:
    return service.Actor(principal=caller, request_id=getattr(request.state, "request_id", None),
                         client_request_id=getattr(request.state, "client_request_id", None))


async def _read(session: Any, cat: Catalog, found: list[Review]) -> list[ReviewRead]:
    events = await store.history(session, [r.id for r in found if r.id is not None])
    return [
        ReviewRead(
            id=r.id or 0, unit=r.unit_code, unit_name=cat.units[r.unit_code].name if r.unit_code in cat.units
            else r.unit_code, year=r.year, state=r.state, updated_at=r.updated_at.isoformat(),
            history=[EventRead(action=e.action, state=e.state, comment=e.comment, key_name=e.key_name,
                               recorded_at=e.recorded_at.isoformat(), digest=e.digest) for e in events[r.id or 0]],
        )
        for r in found
    ]


@router.post("/reviews", status_code=201, response_model=ReviewRead, responses=_ERRORS)
async def submit(body: ReviewCreate, request: Request, session: WriteSessionDep, catalogs: Catalogs,
                 caller: Reader, idempotency_key: IdempotencyKey) -> Response:
    """Submit a dataset (a unit's year, every unit below included) for review; again after a return or unlock
    (200, same id)."""
    created = True

    async def run() -> ReviewRead:
        nonlocal created
        cat = await catalogs.snapshot(session)
        unit = unit_code_or_422(cat, body.unit, location="body.unit")
        review, created = await service.submit(session, cat, unit, body.year, by=_actor(request, caller))
        return (await _read(session, cat, [review]))[0]

    return await idempotently(request, session, caller, idempotency_key, 201, run,
                              status_of=lambda: 201 if created else 200)


async def _transition(request: Request, session: Any, catalogs: Any, caller: Any, review_id: int, action: Action,
                      comment: str | None, key: str | None) -> Response:
    async def run() -> ReviewRead:
        cat = await catalogs.snapshot(session)
        review = await service.transition(session, cat, review_id, action, comment=comment,
                                          by=_actor(request, caller))
        return (await _read(session, cat, [review]))[0]

    return await idempotently(request, session, caller, key, 200, run)


@router.post("/reviews/{review_id}/approve", response_model=ReviewRead, responses=_ERRORS)
async def approve(review_id: Id, request: Request, session: WriteSessionDep, catalogs: Catalogs, caller: Reader,
                  idempotency_key: IdempotencyKey, body: ReviewNote | None = None) -> Response:
    """Approve a submitted dataset (reviewer or admin): its values, and those below it, are locked."""
    return await _transition(request, session, catalogs, caller, review_id, Action.APPROVE,
                             body.comment if body else None, idempotency_key)


@router.post("/reviews/{review_id}/return", response_model=ReviewRead, responses=_ERRORS)
async def return_(review_id: Id, body: ReturnBody, request: Request, session: WriteSessionDep, catalogs: Catalogs,
                  caller: Reader, idempotency_key: IdempotencyKey) -> Response:
    """Return a submitted dataset to its district with a comment (reviewer or admin)."""
    return await _transition(request, session, catalogs, caller, review_id, Action.RETURN, body.comment,
                             idempotency_key)


@router.post("/reviews/{review_id}/unlock", response_model=ReviewRead, responses=_ERRORS)
async def unlock(review_id: Id, body: UnlockBody, request: Request, session: WriteSessionDep, catalogs: Catalogs,
                 caller: Reader, idempotency_key: IdempotencyKey) -> Response:
    """Unlock an approved dataset (admin): it becomes `open` and may be changed and submitted again."""
    return await _transition(request, session, catalogs, caller, review_id, Action.UNLOCK, body.reason,
                             idempotency_key)


@router.get("/reviews", response_model=list[ReviewRead])
async def listing(
    session: SessionDep, catalogs: Catalogs, _caller: Reader,
    unit: str | None = Query(default=None, max_length=64, description="This unit and the units below it"),
    year: int | None = Query(default=None, ge=1900, le=2100),
    state: Literal["submitted", "approved", "returned", "open"] | None = None,
) -> list[ReviewRead]:
    """Reviewed datasets with every transition (who, when); a dataset never submitted has no row."""
    cat = await catalogs.snapshot(session)
    units = cat.subtree(unit_code_or_422(cat, unit)) if unit else None
    return await _read(session, cat, await store.listing(session, units=units, year=year, state=state))


@router.get("/reviews/{review_id}", response_model=ReviewRead, responses={404: {}})
async def one(review_id: Id, session: SessionDep, catalogs: Catalogs, _caller: Reader) -> ReviewRead:
    cat = await catalogs.snapshot(session)
    found = await store.get(session, review_id)
    if found is None:
        raise NotFound(_("No review {id}.", id=review_id))
    return (await _read(session, cat, [found]))[0]

