"""One error shape: AppError subclasses, rendered as RFC 9457 problem documents by one handler."""

from http import HTTPStatus
from typing import Any

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.domain.text import echo
from app.i18n import LANGS, Lang, Message, Text, _, negotiate, render

PROBLEM = "application/problem+json"
TYPE_BASE = "https://attain.qingdao.example/problems/"
log = structlog.get_logger()


# No message of ours is this long: a longer string can only carry echoed input, which is cut here whatever the
# message that quoted it (each echo is already cut to 200 characters where the message is built).
MAX_PROBLEM_STRING = 1000


def cap_strings(content: Any) -> Any:
    """The document with every string cut to MAX_PROBLEM_STRING characters."""
    if isinstance(content, str):
        return content if len(content) <= MAX_PROBLEM_STRING else content[:MAX_PROBLEM_STRING] + "…"
    if isinstance(content, dict):
        return {cap_strings(k): cap_strings(v) for k, v in content.items()}
    if isinstance(content, list | tuple):
        return [cap_strings(v) for v in content]
    return content


class ProblemResponse(Response):
    """An RFC 9457 problem document."""

    media_type = PROBLEM

    def render(self, content: object) -> bytes:
        return orjson.dumps(cap_strings(content))


class AppError(Exception):
    """An error a client can act on; `slug` names its problem type."""

    status = 400
    slug = "bad-request"
    title: Message = _("Bad request")

    def __init__(self, detail: Text, *, errors: list[dict[str, Any]] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.extra = extra


class BadRequest(AppError):
    status, slug, title = 400, "bad-request", _("Unreadable request")


class Unauthorized(AppError):
    status, slug, title = 401, "unauthorized", _("Missing or invalid API key")


class Forbidden(AppError):
    status, slug, title = 403, "forbidden", _("Not allowed for this API key")


class NotFound(AppError):
    status, slug, title = 404, "not-found", _("Not found")


class Conflict(AppError):
    status, slug, title = 409, "conflict", _("Conflict")


class PayloadTooLarge(AppError):
    status, slug, title = 413, "payload-too-large", _("Request too large")


class UnsupportedMediaType(AppError):
    status, slug, title = 415, "unsupported-media-type", _("Unsupported content type")


class Unprocessable(AppError):
    status, slug, title = 422, "unprocessable", _("Request could not be processed")


class ServiceUnavailable(AppError):
    status, slug, title = 503, "unavailable", _("Service temporarily unavailable")


# Titles of the problems Starlette raises itself (no route, wrong method, …), by status.
HTTP_TITLES: dict[int, Message] = {
    400: _("Bad Request"),
    401: _("Unauthorized"),
    403: _("Forbidden"),
    404: _("Not Found"),
    405: _("Method Not Allowed"),
    406: _("Not Acceptable"),
    409: _("Conflict"),
    413: _("Content Too Large"),
    415: _("Unsupported Media Type"),
    422: _("Unprocessable Content"),
    429: _("Too Many Requests"),
    500: _("Internal Server Error"),
    503: _("Service Unavailable"),
}


def problem(
    status: int,
    *,
    slug: str,
    title: Text,
    detail: Text,
    lang: Lang | None = None,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **members: Any,
) -> ProblemResponse:
    """A problem+json response; title and detail in `lang` (default: the request's language)."""
    body: dict[str, Any] = {"type": TYPE_BASE + slug, "title": render(title, lang), "status": status,
                            "detail": render(detail, lang)}
    if instance:
        body["instance"] = instance
    body.update({k: v for k, v in members.items() if v is not None})
    return ProblemResponse(body, status_code=status, headers=headers)


def problem_body(exc: AppError, *, instance: str | None = None) -> dict[str, Any]:
    """The problem document of an AppError, as a dict, in the request's language."""
    body: dict[str, Any] = {"type": TYPE_BASE + exc.slug, "title": render(exc.title), "status": exc.status,
                            "detail": render(exc.detail)}
    if instance:
        body["instance"] = instance
    if exc.errors is not None:
        body["errors"] = exc.errors
    body.update({k: v for k, v in exc.extra.items() if v is not None})
    return body


def request_lang(request: Request) -> Lang:
    """The language chosen for this request by the Language middleware (negotiated here when it did not run)."""
    lang = getattr(request.state, "lang", None)
    if lang in LANGS:
        return lang  # type: ignore[no-any-return]
    settings = getattr(request.app.state, "settings", None)
    return negotiate(request.headers.get("accept-language"), getattr(settings, "default_lang", "zh"))


def _app_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, AppError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return problem(
        exc.status,
        slug=exc.slug,
        title=exc.title,
        detail=exc.detail,
        lang=request_lang(request),
        instance=request.url.path,
        headers=headers,
        errors=exc.errors,
        **exc.extra,
    )


def _validation_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"location": echo(".".join(str(p) for p in e.get("loc", ()))), "message": echo(e.get("msg", "")),
         "type": e.get("type")}
        for e in exc.errors()
    ]
    return problem(
        422,
        slug="validation",
        title=_("Invalid request"),
        detail=_("{count} field(s) failed validation; see errors.", count=len(errors)),
        lang=request_lang(request),
        instance=request.url.path,
        errors=errors,
    )


def _allowed_methods(request: Request) -> str:
    """Every method some route serves at this path (Starlette names only the first partial match's)."""
    from starlette.routing import Match

    found = set()
    for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"):
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] == Match.FULL for route in request.app.router.routes):
            found.add(method)
    return ", ".join(sorted(found))


def _http_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 405:
        exc.headers = {**(exc.headers or {}), "Allow": _allowed_methods(request)}
    phrase = HTTPStatus(exc.status_code).phrase if exc.status_code in HTTPStatus._value2member_map_ else "Error"
    title: Text = HTTP_TITLES.get(exc.status_code, phrase)
    # Starlette's own details are its status phrases; a route's HTTPException detail is shown as given.
    detail: Text = title if not isinstance(exc.detail, str) or exc.detail == phrase else exc.detail
    return problem(
        exc.status_code,
        slug=phrase.lower().replace(" ", "-"),
        title=title,
        detail=detail,
        lang=request_lang(request),
        instance=request.url.path,
        headers=getattr(exc, "headers", None),
    )


def _unexpected(request: Request, exc: Exception) -> ProblemResponse:
    # Handlers may run in a thread pool, outside the exception's context: pass it explicitly.
    log.error("unhandled_error", path=request.url.path, exc_info=exc)
    return problem(500, slug="internal", title=_("Internal error"), detail=_("An unexpected error occurred."),
                   lang=request_lang(request))


def install_error_handlers(app: FastAPI) -> None:
    """Route every error, expected or not, to a problem document."""
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    def _db_down(request: Request, exc: Exception) -> ProblemResponse:
        if is_bad_data(exc):
            # Input the database cannot hold (NUL in text on PostgreSQL, a number out of range) that no check
            # before it caught: the client's fault, and the transaction was rolled back.
            log.warning("input_refused_by_database", path=request.url.path, error=type(exc).__name__)
            return problem(400, slug="bad-request", title=_("Unreadable request"), code="invalid_input",
                           detail=_("A value in the request cannot be stored or compared (e.g. a NUL character)."),
                           lang=request_lang(request), instance=request.url.path)
        if not is_outage(exc):
            return _unexpected(request, exc)
        log.warning("database_unavailable", path=request.url.path, error=type(exc).__name__)
        busy = isinstance(exc, PoolTimeout)
        return problem(
            503,
            slug="unavailable",
            title=_("Service busy") if busy else _("Database unavailable"),
            detail=_("Every database connection is in use; retry shortly.") if busy
            else _("The database cannot be reached; retry shortly."),
            lang=request_lang(request),
            headers={"Retry-After": "5"},
        )

    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(DBAPIError, _db_down)
    app.add_exception_handler(PoolTimeout, _db_down)
    app.add_exception_handler(OSError, _db_down)
    for raw in _DRIVER_ERRORS:
        app.add_exception_handler(raw, _db_down)
    app.add_exception_handler(Exception, _unexpected)


# SQLSTATE classes that mean "the database is not there right now": connection exceptions (08), operator
# intervention — shutdown, crash, starting up (57P01–57P03) — and too many connections (53300).
_OUTAGE_STATES = frozenset({"57P01", "57P02", "57P03", "53300"})


def _driver_errors() -> tuple[type[Exception], ...]:
    try:
        import asyncpg
    except ImportError:  # PostgreSQL support not installed
        return ()
    return (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, asyncpg.exceptions.OperatorInterventionError)


# Raised by the asyncpg bulk paths directly, not wrapped by SQLAlchemy.
_DRIVER_ERRORS = _driver_errors()


def is_outage(exc: BaseException) -> bool:
    """Whether an error means the database is unreachable (503), not that the request or the code is wrong."""
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    if isinstance(exc, PoolTimeout | OSError) or (_DRIVER_ERRORS and isinstance(exc, _DRIVER_ERRORS)):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    chain: BaseException | None = exc
    for _step in range(4):
        if chain is None:
            break
        state = getattr(chain, "sqlstate", None) or getattr(chain, "pgcode", None)
        if isinstance(state, str) and (state.startswith("08") or state in _OUTAGE_STATES):
            return True
        if _DRIVER_ERRORS and isinstance(chain, _DRIVER_ERRORS):
            return True
        chain = getattr(chain, "orig", None) or chain.__cause__
    return _looks_like_outage(exc)


def is_bad_data(exc: BaseException) -> bool:
    """Whether the database refused a value itself (SQLSTATE class 22, data exception), not the connection."""
    chain: BaseException | None = exc
    for _step in range(4):
        if chain is None:
            break
        state = getattr(chain, "sqlstate", None) or getattr(chain, "pgcode", None)
        if isinstance(state, str) and state.startswith("22"):
            return True
        chain = getattr(chain, "orig", None) or chain.__cause__
    return False


def _looks_like_outage(exc: BaseException) -> bool:
    text = f"{type(exc.__cause__ or exc).__name__} {exc}".lower()
    return any(
        s in text
        for s in ("connection", "connect", "closed", "cannot", "terminat", "shutdown", "timeout", "refused")
    )
