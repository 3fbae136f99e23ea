"""Review use cases: submit a dataset, approve, return, unlock — who may, from which state, with history."""

from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import locks, reviews
from app.db.models import Review
from app.domain.catalog import Catalog
from app.domain.keys import Principal, Role
from app.domain.review import Action, NotAllowed, ReviewState, move
from app.errors import Conflict, Forbidden, NotFound
from app.i18n import _, message_of
from app.services.locking import approval_key

APPROVERS = frozenset({Role.ADMIN, Role.REVIEWER})
SUBMITTERS = frozenset({Role.ADMIN, Role.DISTRICT})


@dataclass(frozen=True, slots=True)
class Actor:
    principal: Principal
    request_id: str | None
    client_request_id: str | None = None


def _may_submit(catalog: Catalog, caller: Principal, unit: str) -> None:
    if caller.role not in SUBMITTERS:
        raise Forbidden(_("Only a district key (for its own subtree) or an admin submits a dataset for review."))
    if caller.role == Role.DISTRICT and unit not in catalog.subtree(caller.unit_code or ""):
        raise Forbidden(_("This key submits only datasets of {unit} and the units under it.", unit=caller.unit_code))


async def submit(session: AsyncSession, catalog: Catalog, unit: str, year: int, *, by: Actor) -> tuple[Review, bool]:
    """Create the dataset's review (True) or submit it again after a return or an unlock (False)."""
    _may_submit(catalog, by.principal, unit)
    found = await reviews.find(session, unit, year, exclusive=True)
    if found is None:
        review = Review(unit_code=unit, year=year, state=ReviewState.SUBMITTED.value)
        try:
            async with session.begin_nested():
                session.add(review)
                await session.flush()
        except IntegrityError:
            raise Conflict(_("The dataset {unit}/{year} was just submitted by another request.", unit=unit,
                             year=year),
                           code="review_state") from None
        reviews.record(session, review, action=Action.SUBMIT.value, comment=None, key_name=by.principal.name,
                       request_id=by.request_id, key_id=by.principal.key_id, client_request_id=by.client_request_id)
        await session.flush()
        return review, True
    await _move(session, found, Action.RESUBMIT, comment=None, by=by)
    return found, False


async def transition(session: AsyncSession, catalog: Catalog, review_id: int, action: Action, *,
                     comment: str | None, by: Actor) -> Review:
    """Approve, return or unlock; the row is held exclusively, so no write of the dataset interleaves."""
    role = by.principal.role
    if action is Action.UNLOCK and role != Role.ADMIN:
        raise Forbidden(_("Only an admin unlocks an approved dataset."))
    if action in (Action.APPROVE, Action.RETURN) and role not in APPROVERS:
        raise Forbidden(_("Only a reviewer or an admin approves or returns a dataset."))
    review = await reviews.get(session, review_id, exclusive=True)
    if review is None:
        raise NotFound(_("No review {id}.", id=review_id))
    if action is Action.APPROVE:
        # The dataset's lock, exclusive: writes in flight commit first (and the digest below sees them); later
        # writes wait, then see it approved.
        await locks.approving(session, approval_key(catalog, review.unit_code), review.year)
    if action is Action.UNLOCK:
        above = await reviews.approved_for_write(
            session, [(a, review.year) for a in catalog.ancestors(review.unit_code)])
        if above:
            unit, year = min(above)
            raise Conflict(_("The dataset {unit}/{year} above it is still approved; unlock that one first.",
                             unit=unit, year=year),
                           code="locked")
    digest = None
    if action is Action.APPROVE:
        digest = await reviews.digest(session, catalog.subtree(review.unit_code), review.year)
    await _move(session, review, action, comment=comment, by=by, digest=digest)
    return review


async def _move(session: AsyncSession, review: Review, action: Action, *, comment: str | None, by: Actor,
                digest: str | None = None) -> None:
    try:
        review.state = move(ReviewState(review.state), action).value
    except NotAllowed as exc:
        raise Conflict(message_of(exc), code="review_state", state=review.state) from None
    reviews.record(session, review, action=action.value, comment=comment, key_name=by.principal.name,
                   request_id=by.request_id, digest=digest, key_id=by.principal.key_id,
                   client_request_id=by.client_request_id)
    await session.flush()
