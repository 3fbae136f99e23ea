"""Idempotency-Key, one rule for every route that honours it (submissions, deletes, reviews, reports, …).

- The key: 1–255 visible ASCII characters, else 400 `bad_idempotency_key` (the `IdempotencyKey` dependency).
- The request's fingerprint: its body, content type and query — or, for a multipart form, each part's name, text
  value and file SHA-256, never the boundary (clients change it on every retry).
- Scoped per API key. The first answer, 2xx or 4xx, is kept in the request's own transaction and replayed with
  `Idempotent-Replayed: true`; another request under the same key is 422; one still in flight is 409 at once on
  PostgreSQL (a transaction-scoped try-lock on the key: a crash never blocks it), while SQLite's single writer makes
  the second wait for the first, then replay.
"""

import hashlib
from collections.abc import Awaitable, Callable, Iterable
from datetime import timedelta
from typing import Annotated

import orjson
from fastapi import Depends, Header, Request, Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import write
from app.db.types import utcnow
from app.domain.keys import Principal
from app.domain.text import valid_idempotency_key
from app.errors import PROBLEM, AppError, BadRequest, Conflict, Unprocessable, problem_body
from app.i18n import _

REPLAYED = {"Idempotent-Replayed": "true"}


async def _idempotency_key(
    idempotency_key: Annotated[str | None, Header(
        description="1–255 visible ASCII characters: the first answer under the same key is replayed",
        # Declared, not enforced by FastAPI: a key outside it is our 400 `bad_idempotency_key`, not a 422.
        json_schema_extra={"pattern": "^[!-~]{1,255}$"})] = None,
) -> str | None:
    if idempotency_key is not None and not valid_idempotency_key(idempotency_key):
        raise BadRequest(_("Idempotency-Key must be 1–255 visible ASCII characters (no spaces)."),
                         code="bad_idempotency_key")
    return idempotency_key


IdempotencyKey = Annotated[str | None, Depends(_idempotency_key)]


def fingerprint(*, body: bytes, content_type: str, query: str) -> str:
    """What makes two requests with a plain body 'the same': body, content type and query."""
    h = hashlib.sha256()
    for part in (content_type.split(";")[0].strip().lower().encode(), b"\0", query.encode(), b"\0", body):
        h.update(part)
    return h.hexdigest()


def fingerprint_parts(parts: Iterable[tuple[str, str | bytes]], *, query: str) -> str:
    """The same for a multipart form: each part's name and text value, or its file's SHA-256 (pass the bytes)."""
    h = hashlib.sha256(b"multipart\0" + query.encode())
    for name, value in parts:
        text = hashlib.sha256(value).hexdigest() if isinstance(value, bytes) else value
        h.update(orjson.dumps([name, text]))
    return h.hexdigest()


def receipt(caller: Principal, key: str | None, fp: str) -> write.Receipt | None:
    return None if key is None else write.Receipt(key_id=caller.key_id, key=key, fingerprint=fp)


def ttl(request: Request) -> timedelta:
    return timedelta(hours=request.app.state.settings.idempotency_ttl_hours)


def busy() -> Conflict:
    return Conflict(_("A request with this Idempotency-Key is still being processed; retry shortly."),
                    code="idempotency_in_flight")


def mismatch() -> Unprocessable:
    return Unprocessable(_("This Idempotency-Key was used with a different request; use a new key."),
                         code="idempotency_key_reused")


def replayed(answer: write.Answer) -> Response:
    return Response(answer.body, status_code=answer.status_code, media_type=answer.media_type, headers=REPLAYED)


async def idempotently(request: Request, session: AsyncSession, caller: Principal, key: str | None, status: int,
                       run: Callable[[], Awaitable[BaseModel]], status_of: Callable[[], int] | None = None,
                       form: bytes | None = None, *, fp: str | None = None) -> Response:
    """Run `run` once per (API key, Idempotency-Key) in the request's transaction; its model is answered as JSON
    with `status` (or, when given, `status_of()` read after the run). For a multipart body, `form` is its
    canonical form (each part's name, value or file SHA-256, never the boundary: app.api.uploads) or `fp` a
    fingerprint made by fingerprint_parts; otherwise the body, content type and path with query make it."""
    if key is None:
        model = await run()
        return _json(status_of() if status_of else status, model)
    query = f"{request.url.path}?{request.url.query}"
    if fp is None and form is not None:
        fp = fingerprint(body=form, content_type="multipart/form-data", query=query)
    if fp is None:
        fp = fingerprint(body=await request.body(), content_type=request.headers.get("content-type", ""),
                         query=query)
    held = receipt(caller, key, fp)
    empty = write.Plan(cells=set(), datasets=set())
    try:
        await write.hold(session, empty, held)
    except write.Busy:
        raise busy() from None
    now = utcnow()
    seen = await write.read(session, empty, held, ttl=ttl(request), now=now)
    if seen.answer is not None:
        if seen.answer.fingerprint != fp:
            raise mismatch()
        return replayed(seen.answer)
    try:
        model = await run()
        response = _json(status_of() if status_of else status, model)
    except AppError as exc:
        # Answered, not raised: the record keeps 4xx answers too.
        response = Response(orjson.dumps(problem_body(exc, instance=request.url.path)), status_code=exc.status,
                            media_type=PROBLEM)
    await write.keep_answer(session, answer_row(held, response), now=now)  # type: ignore[arg-type]
    return response


def answer_row(held: write.Receipt, response: Response) -> dict[str, object]:
    """A response as write.keep_answer keeps it."""
    return {"ik": held.key_id, "ikey": held.key, "ifp": held.fingerprint, "istatus": response.status_code,
            "ibody": bytes(response.body).decode(), "imedia": response.media_type or ""}


def _json(status: int, model: BaseModel) -> Response:
    return Response(model.model_dump_json(), status_code=status, media_type="application/json")
