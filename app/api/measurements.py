"""District submissions and stored values: POST, GET (current or as of), history, DELETE."""

import base64
from datetime import date
from typing import Any, Literal

import orjson
from fastapi import APIRouter, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.background import BackgroundTask

from app import metrics
from app.api import replay
from app.api.csvout import csv_response, values_csv, wants_csv
from app.api.deps import Catalogs, Reader, SessionDep, Writer, WriteSessionDep
from app.api.replay import IdempotencyKey
from app.db import measurements, write
from app.db.types import utcnow
from app.domain.catalog import Catalog
from app.domain.keys import Principal, Role
from app.domain.payload import PayloadError, TooManyValues, UnsupportedType, with_default_unit
from app.domain.periods import PeriodError, parse_period, today_in_shanghai
from app.domain.text import echo
from app.domain.times import parse_as_of
from app.domain.workbook import XLSX, Inflated, MacroEnabled
from app.errors import (
    PROBLEM,
    AppError,
    BadRequest,
    PayloadTooLarge,
    Unprocessable,
    UnsupportedMediaType,
    cap_strings,
    problem_body,
)
from app.i18n import _, message_of
from app.schemas.measurements import (
    DeletedRead,
    RevisionRead,
    SubmissionIn,
    SubmissionResult,
    ValuePage,
    ValueRead,
    inline_schema,
)
from app.services import submissions
from app.services.catalog import indicator_or_404
from app.services.values import delete_value as withdraw

router = APIRouter(tags=["measurements"])

_BODY_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": inline_schema(SubmissionIn)},
            "text/csv": {"schema": {"type": "string", "description": "header: indicator,unit,period,value,"
                                    "numerator,denominator,comment (or 指标,单位,期间,数值,分子,分母,备注); "
                                    "UTF-8 (BOM optional) or charset=gbk"}},
            XLSX: {"schema": {"type": "string", "format": "binary",
                              "description": "the template of GET /templates filled in, or a first sheet with "
                                             "the CSV's columns"}},
        },
    }
}
_PROBLEMS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Unreadable body"},
    403: {"description": "A unit outside the key's subtree, or a role that cannot write"},
    409: {"description": "Same Idempotency-Key still in flight"},
    413: {"description": "Over 5 MiB or 10,000 values, or a workbook inflating past its cap"},
    415: {"description": "Neither JSON, CSV nor .xlsx; or a macro-enabled workbook"},
    422: {"description": "No row accepted (problem document with counts and conflicts), or key reused"},
}


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(_("The body is {size} bytes; at most {limit} are accepted.", size=int(declared),
                                limit=limit))
    buf = bytearray()
    async for chunk in request.stream():
        buf += chunk
        if len(buf) > limit:
            raise PayloadTooLarge(_("The body exceeds {limit} bytes; split it into smaller submissions.",
                                    limit=limit))
    return bytes(buf)


def _json(status: int, body: dict[str, object], media: str = "application/json") -> Response:
    return Response(orjson.dumps(cap_strings(body) if media == PROBLEM else body), status_code=status,
                    media_type=media)


@router.post("/measurements", openapi_extra=_BODY_DOC, response_model=SubmissionResult, responses=_PROBLEMS)
async def submit(
    request: Request,
    session: WriteSessionDep,
    catalogs: Catalogs,
    caller: Writer,
    idempotency_key: IdempotencyKey,
    dry_run: bool = Query(default=False, description="Validate and answer, store nothing"),
    atomic: bool = Query(default=False, description="All rows or none"),
) -> Response:
    """Submit values for your district (JSON or CSV). Upserts on (indicator, unit, period)."""
    settings = request.app.state.settings
    body = await _read_body(request, settings.max_body_bytes)
    content_type = request.headers.get("content-type", "")
    held = replay.receipt(caller, idempotency_key,
                          replay.fingerprint(body=body, content_type=content_type, query=str(request.url.query)))
    try:
        rows = await _rows(request, caller, body, content_type)
        outcome, answer = await submissions.submit(
            session, catalogs, caller, rows, dry_run=dry_run, atomic=atomic, today=today_in_shanghai(),
            now=utcnow(), request_id=getattr(request.state, "request_id", None),
            client_request_id=getattr(request.state, "client_request_id", None),
            receipt=held, render=lambda o: _answer(request, o, atomic, held), ttl=replay.ttl(request))
    except submissions.Replay as found:
        return replay.replayed(found.answer)
    except write.Busy:
        raise replay.busy() from None
    except AppError as exc:
        if exc.status >= 500 or held is None or exc.extra.get("code") == "idempotency_key_reused":
            raise
        # Answered, not raised: the idempotency record keeps 4xx answers too.
        return await _refusal(request, session, held, _json(exc.status, problem_body(exc, instance=request.url.path),
                                                              PROBLEM))
    metrics.count_ingested(outcome.tallies)
    response = _response(answer) if answer is not None else _rendered(request, outcome, atomic)
    if outcome.changed:
        # After the commit: the roll-up keeps the totals and flags above what this request stored.
        response.background = BackgroundTask(request.app.state.rollup.poke)
    return response


async def _refusal(request: Request, session: AsyncSession, held: write.Receipt, response: Response) -> Response:
    """A refusal found before the write: kept under its key, unless an answer is kept already (then replayed)."""
    empty = write.Plan(cells=set(), datasets=set())
    try:
        await write.hold(session, empty, held)
    except write.Busy:
        raise replay.busy() from None
    seen = await write.read(session, empty, held, ttl=replay.ttl(request), now=utcnow())
    if seen.answer is not None:
        if seen.answer.fingerprint != held.fingerprint:
            raise replay.mismatch()
        return replay.replayed(seen.answer)
    await write.keep_answer(session, replay.answer_row(held, response), now=utcnow())
    return response


async def _rows(request: Request, caller: Principal, body: bytes, content_type: str) -> list[Any]:
    settings = request.app.state.settings
    try:
        # A workbook is parsed in a child process with a time and memory limit (app.services.uploads).
        rows = await request.app.state.uploads.parse(body, content_type, max_values=settings.max_values,
                                                     max_uncompressed=settings.max_xlsx_uncompressed_bytes)
    except (UnsupportedType, MacroEnabled) as exc:
        raise UnsupportedMediaType(message_of(exc)) from None
    except PayloadError as exc:
        raise BadRequest(message_of(exc)) from None
    except (TooManyValues, Inflated) as exc:
        raise PayloadTooLarge(message_of(exc)) from None
    # A district clerk need not name the district on every row: the key's own unit is the default.
    return with_default_unit(rows, caller.unit_code if caller.role == Role.DISTRICT else None)


def _rendered(request: Request, outcome: submissions.Outcome, atomic: bool) -> Response:
    if outcome.status_code == 200:
        return _json(200, outcome.body())
    rejected = outcome.counts["rejected"]
    detail = (_("No value was accepted: {count} rejected (atomic: one bad row rejects all).", count=rejected)
              if atomic and outcome.conflicts else _("No value was accepted: {count} rejected.", count=rejected))
    doc = {"type": "https://attain.qingdao.example/problems/submission-rejected",
           "title": str(_("Submission rejected")), "status": 422, "detail": str(detail),
           "instance": request.url.path, "counts": outcome.counts,
           "conflicts": outcome.conflicts}
    return _json(422, doc, PROBLEM)


def _answer(request: Request, outcome: submissions.Outcome, atomic: bool, held: write.Receipt | None
            ) -> write.Answer:
    response = _rendered(request, outcome, atomic)
    return write.Answer(held.fingerprint if held else "", response.status_code, bytes(response.body).decode(),
                        response.media_type or "application/json")


def _response(answer: write.Answer) -> Response:
    return Response(answer.body, status_code=answer.status_code, media_type=answer.media_type)


def _cursor_out(key: tuple[str, str, str]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(key))).decode().rstrip("=")


def _cursor_in(text: str) -> tuple[str, str, str]:
    try:
        raw = orjson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        if (isinstance(raw, list) and len(raw) == 3 and all(isinstance(x, str) and x.isprintable() for x in raw)
                and len(raw[0]) <= 64 and len(raw[1]) <= 32 and len(raw[2]) <= 16):
            return raw[0], raw[1], raw[2]
    except (ValueError, orjson.JSONDecodeError):
        pass
    raise BadRequest(_("The cursor is not one this service issued; start again without it."))


def _value_read(r: measurements.ValueRow) -> ValueRead:
    return ValueRead(
        indicator=r.indicator, unit=r.unit, period=r.period, period_type=r.period_type,
        period_start=r.period_start.isoformat(), period_end=r.period_end.isoformat(), year=r.year, value=r.value,
        numerator=r.numerator, denominator=r.denominator, comment=r.comment,
        recorded_at=r.recorded_at.isoformat() if r.recorded_at else None,
    )


def _period_bound(text: str | None, name: str, *, end: bool) -> date | None:
    if not text:
        return None
    try:
        p = parse_period(text)
    except PeriodError as exc:
        raise Unprocessable(message_of(exc), errors=[{"location": f"query.{name}", "message": str(exc)}]) from None
    return p.end if end else p.start


def _unit_code(catalog: Catalog, text: str) -> str:
    found = catalog.resolve_unit(text)
    if found is None:
        raise Unprocessable(_("Unknown unit '{text}'.", text=echo(text)),
                            errors=[{"location": "query.unit", "message": "unknown"}])
    if found.code in catalog.retired:
        msg = catalog.retired_message(catalog.retired[found.code])
        raise Unprocessable(msg, errors=[{"location": "query.unit", "message": str(msg)}])
    return found.code


@router.get("/measurements", response_model=ValuePage,
            responses={200: {"content": {"text/csv": {}}}, 400: {}, 422: {}})
async def list_values(
    request: Request,
    session: SessionDep,
    catalogs: Catalogs,
    _caller: Reader,
    indicator: str | None = Query(default=None, max_length=64),
    unit: str | None = Query(default=None, max_length=64, description="Code, name or alias"),
    period_from: str | None = Query(default=None, max_length=16, description="Periods ending on/after its start"),
    period_to: str | None = Query(default=None, max_length=16, description="Periods ending on/before its end"),
    as_of: str | None = Query(default=None, max_length=40, description="RFC 3339 instant or date"),
    cursor: str | None = Query(default=None, max_length=400),
    limit: int = Query(default=500, ge=1, le=5000),
    fmt: Literal["json", "csv"] | None = Query(default=None, alias="format", description="Or send Accept: text/csv"),
    lang: Literal["en", "zh"] = Query(default="en", description="CSV language"),
) -> Any:
    """Stored values in (indicator, unit, period) order, a page at a time (CSV: the next page in a Link header)."""
    catalog = await catalogs.snapshot(session)
    if indicator is not None:
        indicator_or_404(catalog, indicator)
    try:
        instant = parse_as_of(as_of) if as_of else None
    except ValueError as exc:
        raise Unprocessable(message_of(exc), errors=[{"location": "query.as_of", "message": str(exc)}]) from None
    rows = await measurements.values(
        session, indicator=indicator, units=[_unit_code(catalog, unit)] if unit else None,
        start=_period_bound(period_from, "period_from", end=False),
        end=_period_bound(period_to, "period_to", end=True), as_of=instant,
        after=_cursor_in(cursor) if cursor else None, limit=limit + 1,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    nxt = _cursor_out((rows[-1].indicator, rows[-1].unit, rows[-1].period)) if more and rows else None
    items = [_value_read(r) for r in rows]
    if wants_csv(request, fmt):
        link = {"Link": f'<{request.url.include_query_params(cursor=nxt)}>; rel="next"'} if nxt else None
        return csv_response(values_csv(catalog, items, chinese=lang == "zh"), "measurements", headers=link)
    return ValuePage(items=items, next_cursor=nxt)


def _key(catalog: Catalog, indicator: str, unit: str, period: str) -> tuple[str, str, str]:
    indicator_or_404(catalog, indicator)
    try:
        label = parse_period(period).label
    except PeriodError as exc:
        raise Unprocessable(message_of(exc), errors=[{"location": "query.period", "message": str(exc)}]) from None
    return indicator, _unit_code(catalog, unit), label


@router.get("/measurements/history", responses={404: {}, 422: {}})
async def value_history(
    session: SessionDep,
    catalogs: Catalogs,
    _caller: Reader,
    indicator: str = Query(max_length=64),
    unit: str = Query(max_length=64),
    period: str = Query(max_length=16),
) -> list[RevisionRead]:
    """Every revision of one value: what it was set to, by which key, when."""
    catalog = await catalogs.snapshot(session)
    key = _key(catalog, indicator, unit, period)
    return [
        RevisionRead(id=r.id or 0, action=r.action, value=r.value, old_value=r.old_value,  # type: ignore[arg-type]
                     numerator=r.numerator, denominator=r.denominator, comment=r.comment, key_name=r.key_name,
                     request_id=r.request_id, key_id=r.key_id, client_request_id=r.client_request_id,
                     recorded_at=r.recorded_at.isoformat())
        for r in await measurements.history(session, key)
    ]


@router.delete("/measurements", response_model=DeletedRead, responses={403: {}, 404: {}, 409: {}, 422: {}})
async def delete_value(
    request: Request,
    session: WriteSessionDep,
    catalogs: Catalogs,
    caller: Writer,
    idempotency_key: IdempotencyKey,
    indicator: str = Query(max_length=64),
    unit: str = Query(max_length=64),
    period: str = Query(max_length=16),
) -> Response:
    """Withdraw a value. It leaves a revision; nothing is physically removed."""
    catalog = await catalogs.snapshot(session)
    key = _key(catalog, indicator, unit, period)
    now = utcnow()

    async def run() -> DeletedRead:
        row = await withdraw(session, catalog, caller, key, now=now,
                             request_id=getattr(request.state, "request_id", None),
                             client_request_id=getattr(request.state, "client_request_id", None))
        return DeletedRead(deleted=ValueRead(
            indicator=row.indicator_code, unit=row.unit_code, period=row.period, period_type=row.period_type,
            period_start=row.period_start.isoformat(), period_end=row.period_end.isoformat(), year=row.year,
            value=row.value, numerator=row.numerator, denominator=row.denominator, comment=row.comment,
            recorded_at=now.isoformat(),
        ))

    response = await replay.idempotently(request, session, caller, idempotency_key, 200, run)
    response.background = BackgroundTask(request.app.state.rollup.poke)
    return response

