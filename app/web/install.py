"""Mount the leaders' page on the app: pages, sign-in, self-hosted API docs, static assets."""

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from app.web import attention, desk, docs, pages, signin
from app.web.render import HERE
from app.web.session import COOKIE, SignInRequired


def _to_signin(request: Request, exc: Exception) -> RedirectResponse:
    assert isinstance(exc, SignInRequired)
    # Where the reader was going comes back after signing in (session.safe_next keeps it on this site).
    response = RedirectResponse(f"/signin?next={quote(exc.next_path, safe='/')}", status_code=303)
    if request.cookies.get(COOKIE):
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response


def install(app: FastAPI) -> None:
    """Add the web routes (no key in any URL: a session cookie after signing in)."""
    app.add_exception_handler(SignInRequired, _to_signin)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(docs.router)
    app.include_router(signin.router)
    app.include_router(pages.router)
    app.include_router(desk.router)
    app.include_router(attention.router)
