"""What the supervision pages' forms share: the session's CSRF token checked on every post, the form read within
the upload limits, the write in a transaction of its own (a refusal rolls it back and is shown on the page), and
303 back to the page on success."""

import hmac
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.uploads import Form, read_form
from app.domain.audit import Author
from app.domain.instructions import TEXT_LIMIT
from app.errors import AppError
from app.i18n import render as say
from app.schemas.catalog import _printable
from app.web.session import Viewer

# What a finished form says when the page comes back (the query names one of these, never free text).
DONE = {
    "progress": "进展报告已报送。", "extension": "延期申请已提交，等待局领导审批。", "reply": "批示反馈已提交。",
    "instruction": "批示已发出。", "closed": "批示已办结。", "reopened": "批示已重新打开。",
    "approved": "延期申请已批准。", "rejected": "延期申请已驳回。",
}


class Refused(Exception):
    """A form the service refused: its Chinese message and HTTP status, shown on the page."""

    def __init__(self, message: str, status: int, code: str | None) -> None:
        super().__init__(message)
        self.message, self.status, self.code = message, status, code


async def posted(request: Request, viewer: Viewer) -> Form:
    """The posted form (multipart or urlencoded), refused unless it carries this session's CSRF token."""
    try:
        form = await read_form(request)
    except AppError as exc:
        raise Refused(say(exc.detail, "zh") or "", exc.status, exc.extra.get("code")) from None
    if not hmac.compare_digest(form.fields.get("csrf", ""), viewer.csrf):
        raise Refused("表单已失效或来源不明，请刷新页面后重新提交。", 403, "csrf_failed")
    # A file input left empty still sends a part, with no name and no bytes: nothing was chosen.
    form.files = [f for f in form.files if f.name or f.data]
    return form


def who(request: Request, viewer: Viewer) -> Author:
    return Author.of(viewer.principal, request_id=getattr(request.state, "request_id", None))


async def write(request: Request, change: Callable[[AsyncSession], Awaitable[Any]]) -> None:
    """Run `change` in its own write transaction; a refusal rolls it back and becomes Refused."""
    try:
        async with request.app.state.write_sessions() as session, session.begin():
            await change(session)
    except AppError as exc:
        raise Refused(say(exc.detail, "zh") or "", exc.status, exc.extra.get("code")) from None


def checked_text(value: str | None, what: str, *, limit: int = TEXT_LIMIT) -> str:
    """Free text as the API takes it: required, within its limit, no control characters but line breaks."""
    text = (value or "").strip()
    if not text:
        raise Refused(f"请填写{what}。", 422, "text_required")
    if len(text) > limit:
        raise Refused(f"{what}不能超过 {limit} 字。", 422, "text_too_long")
    try:
        _printable(text)
    except ValueError:
        raise Refused(f"{what}含有控制字符，请删除后重新提交。", 422, "control_characters") from None
    return text


def back(path: str, done: str, anchor: str = "") -> RedirectResponse:
    """Post/redirect/get: the page again, saying what was done."""
    return RedirectResponse(f"{path}?done={done}" + (f"#{anchor}" if anchor else ""), status_code=303)
