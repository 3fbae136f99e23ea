"""A department's desk (/desk): its deliverables with lights, progress reports with evidence files, extension
requests, and the 批示 it is to answer — each with its form (SPEC "Supervision", Pages)."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.deps import Id, SessionDep
from app.api.supervision import download
from app.db import extensions as extension_store
from app.db import notifications
from app.domain.catalog import Catalog
from app.domain.instructions import InstructionState
from app.domain.keys import Role
from app.services import deliverables as plan
from app.services import instructions, supervision
from app.web import forms, views
from app.web.pages import When, WhenDep, _page
from app.web.session import Viewer, ViewerDep

router = APIRouter(include_in_schema=False)
LIGHT = {"red": "红灯", "yellow": "黄灯", "green": "绿灯", "grey": "灰灯"}
EXTENSION = {"pending": "待审批", "approved": "已批准", "rejected": "已驳回"}
INSTRUCTION = {"open": "待反馈", "answered": "已反馈", "closed": "已办结"}


def _department(viewer: Viewer, asked: str | None, cat: Catalog) -> str | None:
    """A department key's own department; admin and leaders look at the one they ask for."""
    if viewer.principal.role == Role.DEPARTMENT:
        return viewer.principal.department_code
    return asked if asked in cat.departments else None


async def desk_context(session: AsyncSession, cat: Catalog, dept: str, w: When) -> dict[str, Any]:
    listing = await plan.list_deliverables(session, cat, plan.Filters(department=dept), on=w.on, as_of=w.as_of)
    judged = {j.deliverable.code: j for j in listing.items}
    items = []
    for d in views.deliverables(cat, listing):
        j = judged[d["code"]]
        reports = await supervision.list_progress(session, d["code"])
        items.append({**d, "light": j.light.value, "effective": j.deliverable.effective_deadline,
                      "progress_overdue": j.progress_overdue, "reports": reports})
    extensions = await extension_store.listing(session, codes=list(judged) or [""])
    found = await instructions.listing(session, instructions.Filters(department=dept), on=w.on, as_of=w.as_of)
    inbox = await notifications.inbox(session, department=dept, unit=None, role=Role.DEPARTMENT.value, unread=None,
                                      limit=20)
    unread = await notifications.unread_count(session, department=dept, unit=None, role=Role.DEPARTMENT.value)
    return {"dept": cat.departments[dept], "items": items, "extensions": list(reversed(extensions)),
            "inbox": inbox, "unread": unread,
            "to_answer": [v for v in found if v.judged.state is not InstructionState.CLOSED],
            "answered": [v for v in found if v.judged.state is InstructionState.CLOSED],
            "names": {c: d.name_zh for c, d in cat.departments.items()}}


@router.get("/desk")
async def desk(request: Request, session: SessionDep, viewer: ViewerDep, w: WhenDep,
               department: str | None = None, done: str | None = None) -> HTMLResponse:
    """The department's desk; `?department=` for admin and leaders."""
    return await _show(request, session, viewer, w, department=department, done=done)


async def _show(request: Request, session: AsyncSession, viewer: Viewer, w: When, *, department: str | None = None,
                done: str | None = None, refused: forms.Refused | None = None) -> HTMLResponse:
    cat = await request.app.state.catalogs.snapshot(session)
    dept = _department(viewer, department, cat)
    context: dict[str, Any] = {"done": forms.DONE.get(done or ""), "refused": refused, "LIGHT": LIGHT,
                               "EXTENSION": EXTENSION, "INSTRUCTION": INSTRUCTION,
                               "departments": sorted(cat.departments.values(), key=lambda d: d.code)}
    if dept is not None:
        context.update(await desk_context(session, cat, dept, w))
    return _page(request, "desk.html", w, viewer, status=refused.status if refused else 200, **context)


@router.post("/desk/deliverables/{code}/progress")
async def post_progress(request: Request, code: str, session: SessionDep, viewer: ViewerDep,
                        w: WhenDep) -> Response:
    """The progress form, with its evidence files."""
    try:
        form = await forms.posted(request, viewer)
        fields = supervision.ProgressInput(summary=form.fields.get("summary"), percent=form.fields.get("percent"),
                                           next_steps=form.fields.get("next_steps"),
                                           expected_done_on=form.fields.get("expected_done_on"))

        async def change(s: AsyncSession) -> None:
            cat = await request.app.state.catalogs.snapshot(s)
            await supervision.add_progress(s, cat, caller=viewer.principal, code=code, fields=fields,
                                           uploads=form.files, by=forms.who(request, viewer))

        await forms.write(request, change)
    except forms.Refused as exc:
        return await _show(request, session, viewer, w, refused=exc)
    return forms.back("/desk", "progress", f"d-{code}")


@router.post("/desk/deliverables/{code}/extensions")
async def post_extension(request: Request, code: str, session: SessionDep, viewer: ViewerDep,
                         w: WhenDep) -> Response:
    """The extension request form."""
    try:
        form = await forms.posted(request, viewer)

        async def change(s: AsyncSession) -> None:
            cat = await request.app.state.catalogs.snapshot(s)
            await supervision.request_extension(s, cat, caller=viewer.principal, code=code,
                                                new_deadline=form.fields.get("new_deadline"),
                                                reason=form.fields.get("reason"),
                                                progress=form.fields.get("progress"), by=forms.who(request, viewer))

        await forms.write(request, change)
    except forms.Refused as exc:
        return await _show(request, session, viewer, w, refused=exc)
    return forms.back("/desk", "extension", f"d-{code}")


@router.post("/desk/instructions/{instruction_id}/replies")
async def post_reply(request: Request, instruction_id: Id, session: SessionDep, viewer: ViewerDep,
                     w: WhenDep) -> Response:
    """The reply to a 批示, with evidence files."""
    try:
        form = await forms.posted(request, viewer)
        text = forms.checked_text(form.fields.get("text"), "反馈内容")

        async def change(s: AsyncSession) -> None:
            cat = await request.app.state.catalogs.snapshot(s)
            await instructions.reply(s, cat, instruction_id, text=text, department=None, by=viewer.principal,
                                     who=forms.who(request, viewer), uploads=form.files)

        await forms.write(request, change)
    except forms.Refused as exc:
        return await _show(request, session, viewer, w, refused=exc)
    return forms.back("/desk", "reply", f"i-{instruction_id}")


@router.get("/desk/files/{file_id}")
async def file(file_id: Id, session: SessionDep, viewer: ViewerDep) -> Response:
    """An evidence file for a signed-in reader: the API's download, byte for byte, as an attachment."""
    return await download(file_id, session, viewer.principal)
