"""Supervision schemas: progress reports and their files, extension requests, an admin's correction."""

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from app.schemas.deliverables import DeliverableRead

_LOOSE = 100_000


class FileRead(BaseModel):
    id: int
    name: str = Field(description="As uploaded, for display only")
    type: str = Field(description="pdf, docx, xlsx, png or jpeg — decided from the bytes")
    size: int
    sha256: str
    url: str = Field(description="GET it to download")


class ProgressRead(BaseModel):
    id: int
    deliverable: str
    summary: str
    percent: int | None
    next_steps: str | None
    expected_done_on: date | None
    department: str | None
    key_name: str
    recorded_at: datetime
    files: list[FileRead]


class ExtensionWrite(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"new_deadline": "2027-03-31", "reason": "等待市财政局会签", "progress": "初稿已完成"}]})
    new_deadline: str | None = Field(default=None, max_length=_LOOSE, description="YYYY-MM-DD, after the deadline")
    reason: str | None = Field(default=None, max_length=_LOOSE, description="Required; ≤ 2000 characters")
    progress: str | None = Field(default=None, max_length=_LOOSE, description="What is done so far")


class DecisionWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(default=None, max_length=_LOOSE, description="≤ 2000 characters")


class ExtensionEventRead(BaseModel):
    action: str
    state: str
    note: str | None
    key_name: str
    recorded_at: datetime


class ExtensionRead(BaseModel):
    id: int
    deliverable: str
    state: str = Field(description="pending, approved or rejected")
    old_deadline: date = Field(description="The deadline in force when it was asked for")
    new_deadline: date
    reason: str
    progress: str | None
    department: str | None
    key_name: str
    created_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    decision_note: str | None
    history: list[ExtensionEventRead]


class PatchAnswer(BaseModel):
    changed: bool = Field(description="false when the correction repeated what the deliverable says")
    revision_id: int | None
    fields: list[str] = Field(description="The fields it changed")
    deliverable: DeliverableRead
