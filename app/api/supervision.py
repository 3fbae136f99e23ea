"""Supervision routes: progress reports with evidence files, the files themselves, extension requests and their
decisions, and the admin's correction of a deliverable (SPEC "Supervision", "Plan deliverables")."""

from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Body, Header, Query, Request, Response

from app.api.deliverables import Code, deliverable_read
from app.api.deps import Admin, Catalogs, Id, Reader, SessionDep, WriteSessionDep, author
from app.api.replay import idempotently
from app.api.uploads import FILES_FIELD, read_form
from app.db import evidence
from app.db import extensions as extension_store
from app.db.evidence import FileMeta
from app.db.models_supervision import ExtensionEvent, ExtensionRequest, ProgressReport
from app.domain.evidence import MEDIA_TYPES, FileType
from app.domain.text import valid_idempotency_key
from app.errors import BadRequest, NotFound
from app.i18n import _
from app.schemas.supervision import (
    DecisionWrite,
    ExtensionEventRead,
    ExtensionRead,
    ExtensionWrite,
    FileRead,
    PatchAnswer,
    ProgressRead,
)
from app.services import deliverable_edits, supervision
from app.services import deliverables as deliverable_service
from app.services.catalog import department_or_422

router = APIRouter(tags=["supervision"])
API = "/api/v1"
IdemKey = Annotated[str | None, Header(max_length=255, description="Replays the first answer")]
_UPLOAD_DOC: dict[str, Any] = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["summary"],
    "properties": {
        "summary": {"type": "string", "maxLength": 2000}, "percent": {"type": "integer", "minimum": 0, "maximum": 100},
        "next_steps": {"type": "string", "maxLength": 2000}, "expected_done_on": {"type": "string", "format": "date"},
        FILES_FIELD: {"type": "array", "maxItems": 10, "items": {"type": "string", "format": "binary"}},
    }}}}}}


def _key(key: str | None) -> str | None:
    if key is not None and not valid_idempotency_key(key):
        raise BadRequest(_("Idempotency-Key must be 1–255 visible ASCII characters (no spaces)."),
                         code="bad_idempotency_key")
    return key


def file_read(f: FileMeta) -> FileRead:
    return FileRead(id=f.id, name=f.name, type=f.type, size=f.size, sha256=f.sha256, url=f"{API}/files/{f.id}")


def _progress(r: ProgressReport, files: list[FileMeta]) -> ProgressRead:
    return ProgressRead(id=r.id or 0, deliverable=r.deliverable_code, summary=r.summary, percent=r.percent,
                        next_steps=r.next_steps, expected_done_on=r.expected_done_on, department=r.department_code,
                        key_name=r.key_name, recorded_at=r.recorded_at, files=[file_read(f) for f in files])


@router.post("/deliverables/{code}/progress", status_code=201, response_model=ProgressRead,
             openapi_extra=_UPLOAD_DOC, responses={
                 403: {}, 404: {}, 409: {}, 413: {"description": "file_too_large: a file over 20 MiB or a request "
                                                  "over 100 MiB, refused before the rest is read"},
                 415: {"description": "file_type: not PDF, DOCX, XLSX, PNG or JPEG by its bytes"},
                 422: {"description": "too_many_files (over 10), or a field's problem"}})
async def add_progress(request: Request, session: WriteSessionDep, catalogs: Catalogs, caller: Reader,
                       code: str = Code, idempotency_key: IdemKey = None) -> Response:
    """A progress report with evidence files (佐证材料), by one of the deliverable's departments or admin. Never
    edited: a correction is a new report."""
    key = _key(idempotency_key)
    form = await read_form(request)  # before any statement: a slow upload holds no transaction

    async def run() -> ProgressRead:
        cat = await catalogs.snapshot(session)
        fields = supervision.ProgressInput(summary=form.fields.get("summary"), percent=form.fields.get("percent"),
                                           next_steps=form.fields.get("next_steps"),
                                           expected_done_on=form.fields.get("expected_done_on"))
        report, files = await supervision.add_progress(session, cat, caller=caller, code=code, fields=fields,
                                                       uploads=form.files, by=author(request, caller))
        return _progress(report, files)

    return await idempotently(request, session, caller, key, 201, run, form=form.fingerprint)


@router.get("/deliverables/{code}/progress", response_model=list[ProgressRead], responses={404: {}})
async def list_progress(session: SessionDep, _caller: Reader, code: str = Code) -> list[ProgressRead]:
    """A deliverable's progress reports, newest first, with their files."""
    return [_progress(r, files) for r, files in await supervision.list_progress(session, code)]


@router.get("/files/{file_id}", responses={200: {"content": {"application/octet-stream": {}}}, 404: {}})
async def download(file_id: Id, session: SessionDep, _caller: Reader) -> Response:
    """An evidence file, byte for byte, as an attachment (never rendered: `nosniff`)."""
    found = await evidence.content(session, file_id)
    if found is None:
        raise NotFound(_("No file {id}.", id=file_id), code="unknown_file")
    meta, data = found
    quoted = "".join(c if c.isascii() and c.isalnum() or c in "._-" else "_" for c in meta.name) or "file"
    disposition = f"attachment; filename=\"{quoted}\"; filename*=UTF-8''{quote(meta.name, safe='')}"
    return Response(data, media_type=MEDIA_TYPES[FileType(meta.type)], headers={
        "Content-Disposition": disposition, "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox", "X-Attain-SHA256": meta.sha256, "Cache-Control": "private"})


async def extension_reads(session: Any, rows: list[ExtensionRequest]) -> list[ExtensionRead]:
    events = await extension_store.events(session, [r.id for r in rows if r.id is not None])

    def event(e: ExtensionEvent) -> ExtensionEventRead:
        return ExtensionEventRead(action=e.action, state=e.state, note=e.note, key_name=e.key_name,
                                  recorded_at=e.recorded_at)

    return [ExtensionRead(id=r.id or 0, deliverable=r.deliverable_code, state=r.state, old_deadline=r.old_deadline,
                          new_deadline=r.new_deadline, reason=r.reason, progress=r.progress,
                          department=r.department_code, key_name=r.key_name, created_at=r.created_at,
                          decided_at=r.decided_at, decided_by=r.decided_by, decision_note=r.decision_note,
                          history=[event(e) for e in events.get(r.id or 0, [])]) for r in rows]


@router.post("/deliverables/{code}/extensions", status_code=201, response_model=ExtensionRead, responses={
    403: {}, 404: {}, 409: {"description": "extension_pending"},
    422: {"description": "too_late, not_extendable, deadline_not_later, or a field's problem"}})
async def request_extension(body: ExtensionWrite, request: Request, session: WriteSessionDep, catalogs: Catalogs,
                            caller: Reader, code: str = Code, idempotency_key: IdemKey = None) -> Response:
    """A department's extension request (延期申请), before the deadline; one pending per deliverable."""
    key = _key(idempotency_key)

    async def run() -> ExtensionRead:
        cat = await catalogs.snapshot(session)
        row = await supervision.request_extension(session, cat, caller=caller, code=code,
                                                  new_deadline=body.new_deadline, reason=body.reason,
                                                  progress=body.progress, by=author(request, caller))
        return (await extension_reads(session, [row]))[0]

    return await idempotently(request, session, caller, key, 201, run)


async def _decide(request: Request, session: Any, caller: Any, extension_id: int, approve: bool,
                  body: DecisionWrite | None, key: str | None) -> Response:
    key = _key(key)

    async def run() -> ExtensionRead:
        row = await supervision.decide_extension(session, caller=caller, extension_id=extension_id, approve=approve,
                                                 note=body.note if body else None, by=author(request, caller))
        return (await extension_reads(session, [row]))[0]

    return await idempotently(request, session, caller, key, 200, run)


PatchBody = Annotated[dict[str, Any], Body(examples=[{"deadline": "2027-06-30", "progress_days": 14}])]
_DECIDE: dict[int | str, dict[str, Any]] = {403: {}, 404: {}, 409: {"description": "review_state: not pending"},
                                            422: {}}


@router.post("/extensions/{extension_id}/approve", response_model=ExtensionRead, responses=_DECIDE)
async def approve(extension_id: Id, request: Request, session: WriteSessionDep, caller: Reader,
                  body: DecisionWrite | None = None, idempotency_key: IdemKey = None) -> Response:
    """Approve a pending request (leader or admin): its new date becomes the effective deadline."""
    return await _decide(request, session, caller, extension_id, True, body, idempotency_key)


@router.post("/extensions/{extension_id}/reject", response_model=ExtensionRead, responses=_DECIDE)
async def reject(extension_id: Id, request: Request, session: WriteSessionDep, caller: Reader,
                 body: DecisionWrite | None = None, idempotency_key: IdemKey = None) -> Response:
    """Reject a pending request (leader or admin): the deadline stays."""
    return await _decide(request, session, caller, extension_id, False, body, idempotency_key)


@router.get("/extensions", response_model=list[ExtensionRead], responses={422: {}})
async def list_extensions(
    session: SessionDep, catalogs: Catalogs, _caller: Reader,
    state: Literal["pending", "approved", "rejected"] | None = None,
    department: str | None = Query(default=None, max_length=100, description="Code, name or alias"),
) -> list[ExtensionRead]:
    """Extension requests, oldest first; `department`: those on its deliverables."""
    codes = None
    if department is not None:
        cat = await catalogs.snapshot(session)
        dept = department_or_422(cat, department)
        listing = await deliverable_service.judge_all(session, cat, on=deliverable_service.today_in_shanghai(),
                                                      as_of=None)
        codes = [j.deliverable.code for j in listing.items if dept in j.deliverable.departments]
    return await extension_reads(session, await extension_store.listing(session, state=state, codes=codes))


@router.patch("/deliverables/{code}", response_model=PatchAnswer, responses={403: {}, 404: {}, 422: {}})
async def patch_deliverable(request: Request, session: WriteSessionDep, catalogs: Catalogs, caller: Admin,
                            patch: PatchBody, code: str = Code) -> PatchAnswer:
    """Correct a deliverable (admin): title, deadline, departments, progress_days, progress_from. Kept as a
    revision and shown in the history; a past `as_of` judges with what was in force then."""
    cat = await catalogs.snapshot(session)
    done = await deliverable_edits.patch_deliverable(session, cat, code, patch, by=author(request, caller))
    j = await deliverable_service.get_deliverable(session, cat, code, on=deliverable_service.today_in_shanghai(),
                                                  as_of=None)
    return PatchAnswer(changed=done.edit is not None, revision_id=done.edit.id if done.edit else None,
                       fields=list(done.edit.changed) if done.edit else [], deliverable=deliverable_read(cat, j))
