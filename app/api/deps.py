"""Request-scoped dependencies: the session (one transaction per request) and the caller."""

from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.keys import authenticate
from app.domain.keys import METRICS_ROLES, READ_ROLES, WRITE_ROLES, Principal, Role
from app.errors import Forbidden, Unauthorized


async def _session(request: Request, *, write: bool) -> AsyncIterator[AsyncSession]:
    # The transaction begins lazily, at the route's first statement; write sessions lock SQLite at BEGIN.
    factory = request.app.state.write_sessions if write else request.app.state.sessions
    async with factory() as session, session.begin():
        yield session


async def read_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A transaction for reading; committed (harmlessly) at the end."""
    async for s in _session(request, write=False):
        yield s


async def write_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A transaction that commits on success and rolls back on any error, before the answer is sent."""
    async for s in _session(request, write=True):
        yield s


# scope="function": the transaction ends when the route returns, so a 2xx is only ever sent after the commit.
SessionDep = Annotated[AsyncSession, Depends(read_session, scope="function")]
WriteSessionDep = Annotated[AsyncSession, Depends(write_session, scope="function")]


def bearer_token(request: Request) -> str | None:
    """The token of an `Authorization: Bearer` header, if any."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def principal(request: Request) -> Principal:
    """The authenticated caller, or 401."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    token = bearer_token(request)
    if token is None:
        raise Unauthorized("Send an API key as 'Authorization: Bearer <key>'.")
    # A short session of its own, so the route's transaction starts only once the caller is known.
    async with request.app.state.sessions() as session:
        found = await authenticate(session, token)
    if found is None:
        raise Unauthorized("The API key is unknown or has been revoked.")
    request.state.principal = found
    return found


def require(roles: frozenset[Role], what: str) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency that admits only the given roles."""

    async def _check(caller: Annotated[Principal, Depends(principal)]) -> Principal:
        if caller.role not in roles:
            allowed = ", ".join(sorted(r.value for r in roles))
            raise Forbidden(f"A {caller.role.value} key cannot {what}; this needs one of: {allowed}.")
        return caller

    return _check


Reader = Annotated[Principal, Depends(require(READ_ROLES, "read the API"))]
Writer = Annotated[Principal, Depends(require(WRITE_ROLES, "submit or delete values"))]
Admin = Annotated[Principal, Depends(require(frozenset({Role.ADMIN}), "change the catalog"))]
MetricsReader = Annotated[Principal, Depends(require(METRICS_ROLES, "read metrics"))]
