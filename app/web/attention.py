"""The leaders' attention page (/attention, 需关注): red items, overdue 批示, pending extensions to decide from
the page, departments by score; and the forms to write, close or reopen a 批示 (SPEC "Supervision", Pages)."""

from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.deps import Id, SessionDep
from app.db import extensions as extension_store
from app.db import notifications
from app.domain.catalog import CITY, Catalog
from app.domain.instructions import InstructionState, TargetKind
from app.domain.keys import Role
from app.services import attainment_reads as reads
from app.services import deliverables as plan
from app.services import department_scorecard, instructions, supervision
from app.web import forms, views
from app.web.desk import EXTENSION, INSTRUCTION, LIGHT
from app.web.pages import When, WhenDep, _page, _report
from app.web.session import Viewer, ViewerDep

router = APIRouter(include_in_schema=False)
KIND = {"task": "任务", "deliverable": "交付事项", "indicator": "指标"}


async def _context(request: Request, session: AsyncSession, w: When) -> dict[str, Any]:
    cat, report = await _report(request, session, w)
    listing = await plan.judge_all(session, cat, on=w.on, as_of=w.as_of)
    red = {j.deliverable.code for j in listing.items if j.light.value == "red"}
    red_items = [d for d in views.deliverables(cat, listing) if d["code"] in red]
    targets = [r for r in views.worst_first(reads.rows_read(cat, report))
               if r.unit_code == CITY and r.status in ("missed", "off_track")]
    found = await instructions.listing(session, instructions.Filters(), on=w.on, as_of=w.as_of)
    pending = await extension_store.listing(session, state="pending")
    card = await department_scorecard.scorecard(session, cat, year=None, on=w.on, as_of=w.as_of,
                                                report_timeout=request.app.state.settings.report_timeout_seconds)
    return {"red_items": red_items, "red_targets": targets, "overdue": [v for v in found if v.judged.is_overdue],
            "live": [v for v in found if v.judged.state is not InstructionState.CLOSED],
            "closed": [v for v in found if v.judged.state is InstructionState.CLOSED][:20],
            "pending": pending, "card": card, "names": _names(cat), "LIGHT": LIGHT, "EXTENSION": EXTENSION,
            "INSTRUCTION": INSTRUCTION, "KIND": KIND}


def _names(cat: Catalog) -> dict[str, str]:
    return {code: d.name_zh for code, d in cat.departments.items()}


async def _show(request: Request, session: AsyncSession, viewer: Viewer, w: When, *, done: str | None = None,
                refused: forms.Refused | None = None) -> HTMLResponse:
    context = await _context(request, session, w)
    context["may_decide"] = viewer.principal.role in (Role.ADMIN, Role.LEADER)
    # The leaders' own notices (催办 copies, replies to 批示), or whatever the signed-in key's role receives.
    p = viewer.principal
    context["inbox"] = await notifications.inbox(session, department=p.department_code, unit=p.unit_code,
                                                 role=p.role.value, unread=None, limit=20)
    context["unread"] = await notifications.unread_count(session, department=p.department_code, unit=p.unit_code,
                                                         role=p.role.value)
    return _page(request, "attention.html", w, viewer, status=refused.status if refused else 200,
                 done=forms.DONE.get(done or ""), refused=refused, **context)


@router.get("/attention")
async def attention(request: Request, session: SessionDep, viewer: ViewerDep, w: WhenDep,
                    done: str | None = None) -> HTMLResponse:
    """需关注: what a leader should look at today."""
    return await _show(request, session, viewer, w, done=done)


@router.post("/attention/extensions/{extension_id}/{decision}")
async def decide(request: Request, extension_id: Id, decision: str, session: SessionDep, viewer: ViewerDep,
                 w: WhenDep) -> Response:
    """Approve or reject a pending extension request from the page."""
    try:
        form = await forms.posted(request, viewer)
        if decision not in ("approve", "reject"):
            raise forms.Refused("未知的审批操作。", 404, "not_found")
        note = (form.fields.get("note") or "").strip() or None
        if note is not None:
            note = forms.checked_text(note, "审批意见", limit=1000)

        async def change(s: AsyncSession) -> None:
            await supervision.decide_extension(s, caller=viewer.principal, extension_id=extension_id,
                                               approve=decision == "approve", note=note,
                                               by=forms.who(request, viewer))

        await forms.write(request, change)
    except forms.Refused as exc:
        return await _show(request, session, viewer, w, refused=exc)
    return forms.back("/attention", "approved" if decision == "approve" else "rejected", "extensions")


@router.post("/attention/instructions")
async def write_instruction(request: Request, session: SessionDep, viewer: ViewerDep, w: WhenDep) -> Response:
    """Write a 批示 from the page."""
    try:
        form = await forms.posted(request, viewer)
        kind = form.fields.get("kind", "")
        if kind not in KIND:
            raise forms.Refused("请选择批示对象的类型（任务、交付事项或指标）。", 422, "invalid_target")
        text = forms.checked_text(form.fields.get("text"), "批示内容")
        code = (form.fields.get("code") or "").strip()[:64]
        departments = [d for d in form.fields.get("departments", "").replace("，", "、").replace(",", "、")
                       .split("、") if d.strip()]
        respond_by = form.fields.get("respond_by", "").strip()
        try:
            by = date.fromisoformat(respond_by) if respond_by else None
        except ValueError:
            raise forms.Refused("反馈期限请用 YYYY-MM-DD。", 422, "bad_date") from None
        new = instructions.NewInstruction(kind=TargetKind(kind), code=code, text=text,
                                          departments=[d.strip()[:100] for d in departments], respond_by=by)

        async def change(s: AsyncSession) -> None:
            cat = await request.app.state.catalogs.snapshot(s)
            await instructions.create(s, cat, new, by=viewer.principal, who=forms.who(request, viewer))

        await forms.write(request, change)
    except forms.Refused as exc:
        return await _show(request, session, viewer, w, refused=exc)
    return forms.back("/attention", "instruction", "instructions")


@router.post("/attention/instructions/{instruction_id}/{action}")
async def close_or_reopen(request: Request, instruction_id: Id, action: str, session: SessionDep,
                          viewer: ViewerDep, w: WhenDep) -> Response:
    """Close (办结) or reopen a 批示 from the page."""
    try:
        form = await forms.posted(request, viewer)
        note = (form.fields.get("note") or "").strip() or None
        if note is not None:
            note = forms.checked_text(note, "办理意见", limit=1000)
        if action not in ("close", "reopen"):
            raise forms.Refused("未知的批示操作。", 404, "not_found")

        async def change(s: AsyncSession) -> None:
            if action == "close":
                await instructions.close(s, instruction_id, note=note, by=viewer.principal,
                                         who=forms.who(request, viewer))
            else:
                await instructions.reopen(s, instruction_id, respond_by=None, note=note, by=viewer.principal,
                                          who=forms.who(request, viewer))

        await forms.write(request, change)
    except forms.Refused as exc:
        return await _show(request, session, viewer, w, refused=exc)
    return forms.back("/attention", "closed" if action == "close" else "reopened", f"i-{instruction_id}")
