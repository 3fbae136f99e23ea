"""Idempotency-Key for the review actions, with the submissions' rules: scoped per API key, the first answer
(2xx or 4xx) replayed with `Idempotent-Replayed: true`, another body under the same key 422, one in flight 409."""

from collections.abc import Awaitable, Callable

import orjson
from fastapi import Request, Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import idempotency
from app.db.idempotency import ClaimState
from app.domain.keys import Principal
from app.errors import PROBLEM, AppError, Conflict, Unprocessable, problem_body
from app.i18n import _


async def claim(request: Request, caller: Principal, key: str, *, body: bytes, query: str,
                content_type: str | None = None) -> Response | None:
    """Claim (API key, Idempotency-Key) for this request: the first answer when it is a replay, None when this request
    is to run; another body under the key is 422, one still in flight 409. `content_type` stands in for the
    header when the body given is already a canonical form (a multipart form's, without its boundary)."""
    settings = request.app.state.settings
    given = request.headers.get("content-type", "") if content_type is None else content_type
    fp = idempotency.fingerprint(body=body, content_type=given, query=query)
    found = await idempotency.claim(request.app.state.write_sessions, key_id=caller.key_id, key=key, fp=fp,
                                    lease_s=settings.idempotency_lease_seconds, ttl_h=settings.idempotency_ttl_hours)
    if found.state == ClaimState.REPLAY:
        return Response(found.body or "", status_code=found.status_code or 200, media_type=found.media_type,
                        headers={"Idempotent-Replayed": "true"})
    if found.state == ClaimState.MISMATCH:
        raise Unprocessable(_("This Idempotency-Key was used with a different request; use a new key."))
    if found.state == ClaimState.IN_FLIGHT:
        raise Conflict(_("A request with this Idempotency-Key is still being processed; retry shortly."))
    return None


async def idempotently(request: Request, session: AsyncSession, caller: Principal, key: str | None, status: int,
                       run: Callable[[], Awaitable[BaseModel]], status_of: Callable[[], int] | None = None,
                       form: bytes | None = None) -> Response:
    """Run `run` once per (API key, Idempotency-Key); its model is answered as JSON with `status` (or, when
    given, `status_of()` read after the run). `form`: the fingerprint of a multipart body already read
    (app.api.uploads), which stands for the body."""
    if key is None:
        model = await run()
        return _json(status_of() if status_of else status, model)
    replayed = await claim(request, caller, key, body=await request.body() if form is None else form,
                           query=f"{request.url.path}?{request.url.query}",
                           content_type=None if form is None else "multipart/form-data")
    if replayed is not None:
        return replayed
    try:
        try:
            model = await run()
            response = _json(status_of() if status_of else status, model)
        except AppError as exc:
            # Answered, not raised: the record keeps 4xx answers too.
            response = Response(orjson.dumps(problem_body(exc, instance=request.url.path)), status_code=exc.status,
                                media_type=PROBLEM)
        await idempotency.finish(session, key_id=caller.key_id, key=key, status_code=response.status_code,
                                 body=bytes(response.body).decode(), media_type=response.media_type or "")
        return response
    except BaseException:
        # End this request's transaction first: on SQLite it holds the write lock the release needs.
        await session.rollback()
        await idempotency.release(request.app.state.write_sessions, key_id=caller.key_id, key=key)
        raise


def _json(status: int, model: BaseModel) -> Response:
    return Response(model.model_dump_json(), status_code=status, media_type="application/json")
