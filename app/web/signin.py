"""Sign in with an API key (once), sign out. The form carries a CSRF token; cookies are SameSite=Strict."""

import hmac
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.db.keys import authenticate_and_record
from app.domain.keys import READ_ROLES
from app.web import session
from app.web.render import render

router = APIRouter(include_in_schema=False)


async def _form(request: Request, *, next_path: str, error: str | None = None, code: str | None = None,
                status: int = 200) -> HTMLResponse:
    token, signed = await session.new_signin_token(request)
    response = render(request, "signin.html", {"next": session.safe_next(next_path), "error": error, "code": code,
                                               "csrf": token}, status=status)
    session.set_signin_cookie(request, response, signed)
    return response


@router.get("/signin")
async def signin_page(request: Request, next: str = "/") -> HTMLResponse:  # noqa: A002 - the query's name
    """The sign-in form."""
    return await _form(request, next_path=next)


@router.post("/signin")
async def signin(
    request: Request,
    key: Annotated[str, Form(max_length=200)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",  # noqa: A002
) -> Response:
    """Check the key once and open a session; the key itself is never stored in the browser."""
    if not await session.signin_token_ok(request, csrf):
        return await _form(request, next_path=next, status=403, code="csrf_failed",
                           error="表单已失效或来源不明，请重新提交。")
    found = await authenticate_and_record(request.app.state.engine, key.strip())
    if found is None:
        return await _form(request, next_path=next, status=401, code="unauthorized",
                           error="密钥无效或已被吊销。")
    if found.role not in READ_ROLES:
        return await _form(request, next_path=next, status=403, code="forbidden",
                           error=f"{found.role.value} 密钥只能用于抓取指标，不能登录本页面。")
    response = RedirectResponse(session.safe_next(next), status_code=303)
    await session.start(request, response, found)
    response.delete_cookie(session.CSRF_COOKIE, path="/signin")
    return response


@router.post("/signout")
async def signout(
    request: Request, viewer: session.ViewerDep, csrf: Annotated[str, Form(max_length=100)] = ""
) -> Response:
    """End the session for good (the form carries the session's CSRF token): a copy of the cookie is dead too."""
    response = RedirectResponse("/signin", status_code=303)
    if hmac.compare_digest(csrf, viewer.csrf):
        await session.end(request, response, viewer.session_id)
    return response
