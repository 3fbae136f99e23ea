"""批示 schemas (SPEC "Supervision")."""

from datetime import date
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from app.domain.instructions import MAX_DEPARTMENTS, NOTE_LIMIT, TEXT_LIMIT, TargetKind
from app.schemas.catalog import _printable
from app.schemas.supervision import FileRead

Body = Annotated[str, AfterValidator(_printable), Field(min_length=1, max_length=TEXT_LIMIT)]
Note = Annotated[str, AfterValidator(_printable), Field(max_length=NOTE_LIMIT)]
Short = Annotated[str, AfterValidator(_printable), Field(min_length=1, max_length=100)]


class TargetRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: TargetKind
    code: Annotated[str, AfterValidator(_printable), Field(min_length=1, max_length=64,
                                                           description="Task number, deliverable or indicator code")]


class InstructionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    target: TargetRef
    text: Body
    departments: list[Short] = Field(default_factory=list, max_length=MAX_DEPARTMENTS,
                                     description="Codes, names or aliases; empty: the target's own departments")
    respond_by: date | None = Field(default=None, description="Today or later")


class ReplyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: Body
    department: Short | None = Field(default=None, description="Admin only: the department replied for")


class CloseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: Note | None = None


class ReopenBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    respond_by: date | None = Field(default=None, description="Today or later; else the previous one stays")
    note: Note | None = None


class TargetRead(BaseModel):
    kind: str
    code: str


class ReplyRead(BaseModel):
    id: int
    department: str
    text: str
    key_name: str
    recorded_at: str
    files: list[FileRead] = Field(default_factory=list)


class EventRead(BaseModel):
    action: str
    state: str
    respond_by: date | None
    note: str | None
    key_name: str
    recorded_at: str


class InstructionRead(BaseModel):
    id: int
    target: TargetRead
    text: str
    departments: list[str]
    respond_by: date | None
    state: str
    overdue: bool
    overdue_departments: list[str]
    answered_departments: list[str]
    created_by: str
    created_at: str
    replies: list[ReplyRead]
    history: list[EventRead]


class InstructionList(BaseModel):
    date: str
    as_of: str
    items: list[InstructionRead]
