"""批示: write (leader, admin), reply (an addressed department), close and reopen, list and read them."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.attainment import _day, _instant
from app.api.deps import Catalogs, Id, Reader, SessionDep, WriteSessionDep, author
from app.api.replay import idempotently
from app.api.supervision import file_read
from app.api.uploads import FILES_FIELD, read_form
from app.domain.evidence import Upload
from app.domain.instructions import TEXT_LIMIT, InstructionState, TargetKind
from app.errors import Unprocessable
from app.i18n import _
from app.schemas.instructions import (
    CloseBody,
    EventRead,
    InstructionCreate,
    InstructionList,
    InstructionRead,
    ReopenBody,
    ReplyCreate,
    ReplyRead,
    TargetRead,
)
from app.services import instructions as service
from app.services.catalog import department_or_422

router = APIRouter(tags=["supervision"])
_ERRORS: dict[int | str, dict[str, Any]] = {403: {}, 404: {}, 409: {"description": "Not allowed from this state"},
                                            422: {}}
IdemKey = Annotated[str | None, Header(max_length=255, description="Replays the first answer")]


def instruction_read(v: service.View) -> InstructionRead:
    row, j = v.loaded.row, v.judged
    return InstructionRead(
        id=row.id or 0, target=TargetRead(kind=row.target_kind, code=row.target_code), text=row.text,
        departments=v.loaded.departments, respond_by=j.respond_by, state=j.state.value, overdue=j.is_overdue,
        overdue_departments=list(j.overdue), answered_departments=list(j.answered), created_by=row.created_by,
        created_at=row.created_at.isoformat(),
        replies=[ReplyRead(id=r.id or 0, department=r.department_code, text=r.text, key_name=r.key_name,
                           recorded_at=r.recorded_at.isoformat(),
                           files=[file_read(f) for f in v.loaded.files.get(r.id or 0, [])])
                 for r in v.loaded.replies],
        history=[EventRead(action=e.action, state=e.state, respond_by=e.respond_by, note=e.note,
                           key_name=e.key_name, recorded_at=e.recorded_at.isoformat()) for e in v.loaded.events],
    )


async def _now_read(session: AsyncSession, instruction_id: int) -> InstructionRead:
    return instruction_read(await service.one(session, instruction_id, on=_day(None), as_of=None))


@router.post("/instructions", status_code=201, response_model=InstructionRead, responses=_ERRORS)
async def create(body: InstructionCreate, request: Request, session: WriteSessionDep, catalogs: Catalogs,
                 caller: Reader, idempotency_key: IdemKey = None) -> Response:
    """Write a 批示 on a task, a deliverable or an indicator (leader or admin) → `open`."""
    async def run() -> InstructionRead:
        cat = await catalogs.snapshot(session)
        new = service.NewInstruction(kind=body.target.kind, code=body.target.code.strip(), text=body.text,
                                     departments=list(body.departments), respond_by=body.respond_by)
        row = await service.create(session, cat, new, by=caller, who=author(request, caller))
        return await _now_read(session, row.id or 0)

    return await idempotently(request, session, caller, idempotency_key, 201, run)


_REPLY_DOC: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": ReplyCreate.model_json_schema()},
    "multipart/form-data": {"schema": {"type": "object", "required": ["text"], "properties": {
        "text": {"type": "string", "maxLength": TEXT_LIMIT}, "department": {"type": "string"},
        FILES_FIELD: {"type": "array", "maxItems": 10, "items": {"type": "string", "format": "binary"}}}}}}}}


async def _reply_body(request: Request) -> tuple[ReplyCreate, list[Upload], bytes | None]:
    """A reply sent as JSON, or as a form with `text` and evidence `files` (read within the upload limits)."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        form = await read_form(request)
        fields = {k: v for k, v in form.fields.items() if k in ("text", "department")}
        try:
            return ReplyCreate.model_validate(fields), form.files, form.fingerprint
        except ValidationError as exc:
            raise RequestValidationError(exc.errors(include_url=False)) from None
    try:
        return ReplyCreate.model_validate_json(await request.body()), [], None
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from None


@router.post("/instructions/{instruction_id}/replies", status_code=201, response_model=InstructionRead,
             openapi_extra=_REPLY_DOC, responses={**_ERRORS, 413: {}, 415: {}})
async def reply(instruction_id: Id, request: Request, session: WriteSessionDep, catalogs: Catalogs, caller: Reader,
                idempotency_key: IdemKey = None) -> Response:
    """An addressed department answers (once or more), as JSON `{text}` or a multipart form with `text` and
    evidence `files`; the instruction is `answered` once every addressed department has."""
    body, uploads, fingerprint = await _reply_body(request)  # before any statement: a slow upload holds nothing

    async def run() -> InstructionRead:
        cat = await catalogs.snapshot(session)
        await service.reply(session, cat, instruction_id, text=body.text, department=body.department, by=caller,
                            who=author(request, caller), uploads=uploads)
        return await _now_read(session, instruction_id)

    return await idempotently(request, session, caller, idempotency_key, 201, run, form=fingerprint)


@router.post("/instructions/{instruction_id}/close", response_model=InstructionRead, responses=_ERRORS)
async def close(instruction_id: Id, request: Request, session: WriteSessionDep, caller: Reader,
                body: CloseBody | None = None, idempotency_key: IdemKey = None) -> Response:
    """Close (办结) an open or answered instruction (leader or admin)."""
    async def run() -> InstructionRead:
        await service.close(session, instruction_id, note=body.note if body else None, by=caller,
                            who=author(request, caller))
        return await _now_read(session, instruction_id)

    return await idempotently(request, session, caller, idempotency_key, 200, run)


@router.post("/instructions/{instruction_id}/reopen", response_model=InstructionRead, responses=_ERRORS)
async def reopen(instruction_id: Id, request: Request, session: WriteSessionDep, caller: Reader,
                 body: ReopenBody | None = None, idempotency_key: IdemKey = None) -> Response:
    """Reopen an answered or closed instruction (leader or admin): replies are counted again from now."""
    async def run() -> InstructionRead:
        await service.reopen(session, instruction_id, respond_by=body.respond_by if body else None,
                             note=body.note if body else None, by=caller, who=author(request, caller))
        return await _now_read(session, instruction_id)

    return await idempotently(request, session, caller, idempotency_key, 200, run)


def _target(text: str | None) -> tuple[TargetKind | None, str | None]:
    if text is None:
        return None, None
    kind, sep, code = text.partition(":")
    if not sep or kind not in TargetKind.__members__.values() or not code:
        raise Unprocessable(_("target is kind:code, e.g. task:3, deliverable:r03-1 or indicator:t03-…"),
                            code="invalid_target")
    return TargetKind(kind), code


def _as_of_text(when: datetime | None) -> str:
    return when.isoformat() if when else "now"


@router.get("/instructions", response_model=InstructionList, responses={422: {}})
async def listing(
    session: SessionDep, catalogs: Catalogs, _caller: Reader,
    state: InstructionState | None = None,
    department: str | None = Query(default=None, max_length=100, description="Addressed: code, name or alias"),
    target: str | None = Query(default=None, max_length=80, description="kind:code, e.g. task:3"),
    overdue: bool | None = None,
    date: str | None = Query(default=None, max_length=10, description="The day judged (default today)"),
    as_of: str | None = Query(default=None, max_length=40, description="What was known then"),
) -> InstructionList:
    """批示, newest first, with replies and transitions; `overdue` is derived on `date`."""
    cat = await catalogs.snapshot(session)
    kind, code = _target(target)
    filters = service.Filters(state=state, kind=kind, code=code, overdue=overdue,
                              department=department_or_422(cat, department) if department else None)
    on, when = _day(date), _instant(as_of)
    found = await service.listing(session, filters, on=on, as_of=when)
    return InstructionList(date=on.isoformat(), as_of=_as_of_text(when), items=[instruction_read(v) for v in found])


@router.get("/instructions/{instruction_id}", response_model=InstructionRead, responses={404: {}})
async def one(instruction_id: Id, session: SessionDep, _caller: Reader,
              date: str | None = Query(default=None, max_length=10),
              as_of: str | None = Query(default=None, max_length=40)) -> InstructionRead:
    """One 批示 with its replies, files and transitions."""
    return instruction_read(await service.one(session, instruction_id, on=_day(date), as_of=_instant(as_of)))
