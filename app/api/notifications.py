"""The caller's notifications: its department's, unit's or role's reminders, 催办 and notices."""

from typing import Any

from fastapi import APIRouter, Query

from app import clock
from app.api.deps import Id, Reader, SessionDep, WriteSessionDep
from app.db import notifications as store
from app.domain.keys import Principal
from app.errors import NotFound
from app.i18n import _
from app.schemas.notifications import NotificationList, NotificationRead, RecipientRead, SubjectRead

router = APIRouter(tags=["notifications"])


def read(row: Any) -> NotificationRead:
    return NotificationRead(id=row.id, kind=row.kind, subject=SubjectRead(kind=row.subject_kind, code=row.subject_code),
                            recipient=RecipientRead(kind=row.recipient_kind, code=row.recipient_code),
                            title=row.title, body=row.body, link=row.link, due_day=row.due_day, seq=row.seq,
                            created_at=row.created_at, read_at=row.read_at)


def _whose(caller: Principal) -> dict[str, Any]:
    return {"department": caller.department_code, "unit": caller.unit_code, "role": caller.role.value}


@router.get("/notifications", response_model=NotificationList)
async def inbox(session: SessionDep, caller: Reader,
                unread: bool | None = Query(default=None, description="true: unread only; false: read only")
                ) -> NotificationList:
    """The caller's notifications, newest first, with its unread count."""
    rows = await store.inbox(session, unread=unread, **_whose(caller))
    return NotificationList(unread=await store.unread_count(session, **_whose(caller)), items=[read(r) for r in rows])


@router.post("/notifications/{notification_id}/read", response_model=NotificationRead, responses={404: {}})
async def mark_read(notification_id: Id, session: WriteSessionDep, caller: Reader) -> NotificationRead:
    """Mark one of the caller's notifications read (again is harmless)."""
    row = await store.mark_read(session, notification_id, now=clock.now(), **_whose(caller))
    if row is None:
        raise NotFound(_("No notification {id} for this key.", id=notification_id), code="unknown_notification")
    return read(row)
