"""Notification and channel schemas (SPEC.md "Supervision": "Reminders and 催办", "Channels")."""

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class SubjectRead(BaseModel):
    kind: str
    code: str


class RecipientRead(BaseModel):
    kind: Literal["department", "unit", "role"]
    code: str


class NotificationRead(BaseModel):
    id: int
    kind: str
    subject: SubjectRead
    recipient: RecipientRead
    title: str
    body: str
    link: str | None
    due_day: date
    seq: int | None = Field(description="第 N 次催办: N, for kind urge")
    created_at: datetime
    read_at: datetime | None


class NotificationList(BaseModel):
    unread: int
    items: list[NotificationRead]


class ChannelWrite(BaseModel):
    """A channel for exactly one of a department, a unit (district) or a role. The secret is write-only."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["webhook", "dingtalk", "wecom"]
    url: str = Field(min_length=1, max_length=1000, description="http or https; redirects are never followed")
    secret: str | None = Field(default=None, min_length=1, max_length=500,
                               description="Signing secret (webhook, dingtalk); never returned")
    department: str | None = Field(default=None, max_length=64)
    unit: str | None = Field(default=None, max_length=64)
    role: str | None = Field(default=None, max_length=16)


class AttemptRead(BaseModel):
    notification_id: int
    try_no: int
    result: str
    http_status: int | None
    errcode: int | None
    error: str | None
    digest: bool
    at: datetime


class ChannelRead(BaseModel):
    id: int
    kind: str
    url: str
    has_secret: bool
    department: str | None
    unit: str | None
    role: str | None
    broken: bool
    broken_reason: str | None
    created_at: datetime
    updated_at: datetime
