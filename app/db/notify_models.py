"""Tables of reminders and 催办 (SPEC "Supervision"): notifications, channels, the outbox and its attempts."""

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db.models import BigId, _ts
from app.db.types import utcnow


class Notification(SQLModel, table=True):
    """One notice to one recipient (a department, a unit or a role); the unique key makes it exactly once."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("subject_kind", "subject_code", "kind", "due_day", "recipient_kind", "recipient_code",
                         name="uq_notifications_key"),
        Index("ix_notifications_recipient", "recipient_kind", "recipient_code", "id"),
    )
    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    kind: str = Field(max_length=24)
    subject_kind: str = Field(max_length=16)
    subject_code: str = Field(max_length=64)
    recipient_kind: str = Field(max_length=16)
    recipient_code: str = Field(max_length=40)
    due_day: date
    seq: int | None = None  # 催办: the N of 第 N 次
    title: str
    body: str
    link: str | None = None
    created_at: datetime = _ts(nullable=False, default=utcnow)
    read_at: datetime | None = _ts(nullable=True)


class Channel(SQLModel, table=True):
    """An outbound channel for a department, a unit or a role; its secret lives apart (never exported)."""

    __tablename__ = "channels"
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)
    url: str = Field(max_length=1000)
    department_code: str | None = Field(default=None, max_length=40)
    unit_code: str | None = Field(default=None, max_length=32)
    role: str | None = Field(default=None, max_length=16)
    broken: bool = False
    broken_reason: str | None = Field(default=None, max_length=200)
    deleted: bool = False
    # One sender at a time per channel (so the per-minute limit holds across processes): held until this instant.
    lease_until: datetime | None = _ts(nullable=True)
    created_at: datetime = _ts(nullable=False, default=utcnow)
    updated_at: datetime = _ts(nullable=False, default=utcnow)


class ChannelSecret(SQLModel, table=True):
    """A channel's signing secret: write-only through the API and left out of exports (re-entered after import)."""

    __tablename__ = "channel_secrets"
    __table_args__ = {"info": {"archived": False}}
    channel_id: int = Field(primary_key=True)
    secret: str = Field(max_length=500)


class ChannelRevision(SQLModel, table=True):
    """Append-only: every create, change and delete of a channel (the secret only as whether one was set)."""

    __tablename__ = "channel_revisions"
    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    channel_id: int = Field(index=True)
    action: str = Field(max_length=8)
    data: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    key_name: str
    request_id: str | None = None
    key_id: int | None = None
    client_request_id: str | None = Field(default=None, max_length=64)
    recorded_at: datetime = _ts(nullable=False, default=utcnow)


class OutboxRow(SQLModel, table=True):
    """One delivery of one notification through one channel; `state` pending, delivered, failed or held (the
    channel is broken)."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("notification_id", "channel_id", name="uq_outbox_key"),
        Index("ix_outbox_due", "state", "next_at"),
    )
    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    notification_id: int
    channel_id: int = Field(index=True)
    state: str = Field(default="pending", max_length=12)
    tries: int = 0
    next_at: datetime = _ts(nullable=False, default=utcnow)
    created_at: datetime = _ts(nullable=False, default=utcnow)
    delivered_at: datetime | None = _ts(nullable=True)


class DeliveryAttempt(SQLModel, table=True):
    """Every try of a delivery: its result (delivered, retrying, failed, broken), HTTP status, errcode, error."""

    __tablename__ = "delivery_attempts"
    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    outbox_id: int = Field(index=True)
    channel_id: int
    try_no: int
    result: str = Field(max_length=12)
    http_status: int | None = None
    errcode: int | None = None
    error: str | None = Field(default=None, max_length=500)
    digest: bool = False
    message: str = Field(max_length=32)  # one id per message sent: a digest's rows share it
    at: datetime = _ts(nullable=False, default=utcnow)


class SchedulerState(SQLModel, table=True):
    """The reminder scheduler's first day (nothing is dated before it) and its last run."""

    __tablename__ = "scheduler_state"
    name: str = Field(primary_key=True, max_length=40)
    first_day: date
    last_run_at: datetime = _ts(nullable=False, default=utcnow)
