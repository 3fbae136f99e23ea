"""Request-scoped dependencies: the session (one transaction per request) and the caller."""

from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.catalog import CatalogCache
from app.domain.audit import Author
from app.domain.keys import METRICS_ROLES, READ_ROLES, WRITE_ROLES, Principal, Role
from app.errors import Forbidden, Unauthorized
from app.i18n import Message, _
from app.services import rollup


async def _session(request: Request, *, write: bool) -> AsyncIterator[AsyncSession]:
    # The transaction begins lazily, at the route's first statement; write sessions lock SQLite at BEGIN.
    factory = request.app.state.write_sessions if write else request.app.state.sessions
    async with factory() as session, session.begin():
        yield session


async def read_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A transaction for reading, after the roll-up has caught up with every write acknowledged before it (so a
    read never misses one); committed (harmlessly) at the end."""
    request.state.backlog = await rollup.settle_app(request.app.state)
    async for s in _session(request, write=False):
        yield s


async def write_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A transaction that commits on success and rolls back on any error, before the answer is sent."""
    async for s in _session(request, write=True):
        yield s


def catalog_cache(request: Request) -> CatalogCache:
    """The application's catalog snapshot cache (created in the lifespan)."""
    return request.app.state.catalogs  # type: ignore[no-any-return]


Catalogs = Annotated[CatalogCache, Depends(catalog_cache)]

# Row ids as the database can hold them (32-bit serials on PostgreSQL): anything else is 422, never a 500.
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]

# scope="function": the transaction ends when the route returns, so a 2xx is only ever sent after the commit.
SessionDep = Annotated[AsyncSession, Depends(read_session, scope="function")]
WriteSessionDep = Annotated[AsyncSession, Depends(write_session, scope="function")]


def bearer_token(request: Request) -> str | None:
    """The token of an `Authorization: Bearer` header, if any."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


# Declares the scheme in the OpenAPI; the check itself is ours (401 as a problem document, not FastAPI's 403).
bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer attain_…`")


async def principal(
    request: Request, _declared: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)] = None
) -> Principal:
    """The authenticated caller, or 401."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    token = bearer_token(request)
    if token is None:
        raise Unauthorized(_("Send an API key as 'Authorization: Bearer <key>'."))
    # From a one-second cache, else a read of its own (and, once a minute per key, a last-use write of its own): the
    # route's transaction starts once the caller is known.
    found = await request.app.state.principals.authenticate(request.app.state.engine, token)
    if found is None:
        raise Unauthorized(_("The API key is unknown, revoked, expired or rotated out."))
    request.state.principal = found
    return found


def require(roles: frozenset[Role], what: Message) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency that admits only the given roles."""

    async def _check(caller: Annotated[Principal, Depends(principal)]) -> Principal:
        if caller.role not in roles:
            allowed = ", ".join(sorted(r.value for r in roles))
            raise Forbidden(_("A {role} key cannot {what}; this needs one of: {allowed}.", role=caller.role.value,
                              what=what, allowed=allowed))
        return caller

    return _check


Reader = Annotated[Principal, Depends(require(READ_ROLES, _("read the API")))]
Writer = Annotated[Principal, Depends(require(WRITE_ROLES, _("submit or delete values")))]
Admin = Annotated[Principal, Depends(require(frozenset({Role.ADMIN}), _("change the catalog")))]
MetricsReader = Annotated[Principal, Depends(require(METRICS_ROLES, _("read metrics")))]


def author(request: Request, caller: Principal) -> Author:
    """Who makes this request's changes: the key, the server's request id and the client's own."""
    state = request.state
    return Author.of(caller, request_id=getattr(state, "request_id", None),
                     client_request_id=getattr(state, "client_request_id", None))
