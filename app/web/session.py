"""Web sessions: an API key is pasted once; a signed, HttpOnly, SameSite=Strict cookie then names a session.

The cookie holds no key, only a session id and a CSRF token, signed with the service's session secret and
valid for `session_hours`. The session is a row of `web_sessions` (app.db.web_sessions): signing out revokes it,
so a copy of the cookie is refused at its next request by every worker. Every request looks the session and its
key up again (one indexed read each, no cache: revocation needs no wait), so a revoked key ends its sessions too.
"""

import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from app.db import service_secrets, web_sessions
from app.db.keys import principal_by_id
from app.domain.keys import READ_ROLES, Principal

COOKIE = "attain_session"
CSRF_COOKIE = "attain_signin"
SECRET_NAME = "web_session"
SIGNIN_FORM_SECONDS = 3600


class SignInRequired(Exception):
    """No valid session: the handler sends the browser to the sign-in page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


@dataclass(frozen=True, slots=True)
class Viewer:
    principal: Principal
    csrf: str
    session_id: str


async def _serializer(request: Request, salt: str) -> URLSafeTimedSerializer:
    state = request.app.state
    secret = getattr(state, "web_secret", None)
    if secret is None:
        secret = state.settings.session_secret or await service_secrets.get_or_create(state.engine, SECRET_NAME)
        state.web_secret = secret
    return URLSafeTimedSerializer(secret, salt=salt)


def _max_age(request: Request) -> int:
    return int(request.app.state.settings.session_hours * 3600)


def _cookie(response: Response, request: Request, name: str, value: str, *, max_age: int, path: str = "/") -> None:
    # Secure when the browser reached us over HTTPS (directly, or through a proxy uvicorn trusts).
    response.set_cookie(name, value, max_age=max_age, path=path, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")


async def start(request: Request, response: Response, principal: Principal) -> None:
    """Open a session for a key that has just been checked."""
    signer = await _serializer(request, "attain.web.session")
    session_id = await web_sessions.open_session(request.app.state.engine, principal.key_id,
                                                 lasts=timedelta(seconds=_max_age(request)))
    value = signer.dumps({"s": session_id, "c": secrets.token_urlsafe(24)})
    _cookie(response, request, COOKIE, value, max_age=_max_age(request))


async def end(request: Request, response: Response, session_id: str) -> None:
    """Revoke the session (every copy of its cookie is refused from now on) and forget the cookie."""
    await web_sessions.revoke(request.app.state.engine, session_id)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")


async def viewer(request: Request) -> Viewer:
    """The signed-in reader behind this request, or SignInRequired (forged, expired, revoked, wrong role)."""
    raw = request.cookies.get(COOKIE)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if not raw:
        raise SignInRequired(target)
    signer = await _serializer(request, "attain.web.session")
    try:
        data = signer.loads(raw, max_age=_max_age(request))
        session_id, csrf = str(data["s"]), str(data["c"])
    except (BadSignature, KeyError, TypeError, ValueError):
        raise SignInRequired(target) from None
    async with request.app.state.engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        key_id = await web_sessions.key_of(conn, session_id)
        found = None if key_id is None else await principal_by_id(conn, key_id)
    if found is None or found.role not in READ_ROLES:
        raise SignInRequired(target)
    return Viewer(principal=found, csrf=csrf, session_id=session_id)


ViewerDep = Annotated[Viewer, Depends(viewer)]


async def new_signin_token(request: Request) -> tuple[str, str]:
    """A CSRF token for the sign-in form and its signed twin for a cookie (double submit, plus SameSite)."""
    token = secrets.token_urlsafe(24)
    signer = await _serializer(request, "attain.web.signin")
    return token, signer.dumps(token)


def set_signin_cookie(request: Request, response: Response, signed: str) -> None:
    """Send the form's signed token as a cookie scoped to /signin."""
    _cookie(response, request, CSRF_COOKIE, signed, max_age=SIGNIN_FORM_SECONDS, path="/signin")


async def signin_token_ok(request: Request, submitted: str) -> bool:
    """Whether the form's token matches the signed cookie set with the form."""
    raw = request.cookies.get(CSRF_COOKIE)
    if not raw or not submitted:
        return False
    signer = await _serializer(request, "attain.web.signin")
    try:
        expected = str(signer.loads(raw, max_age=SIGNIN_FORM_SECONDS))
    except BadSignature:
        return False
    return hmac.compare_digest(expected, submitted)


def safe_next(path: str | None) -> str:
    """Where to go after signing in: a path on this site only (never //host or a scheme)."""
    if not path or not path.startswith("/") or path.startswith(("//", "/\\")) or any(c in path for c in "\r\n"):
        return "/"
    return path
