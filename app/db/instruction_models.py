"""Tables of 批示 (leaders' instructions), their addressees, replies and transitions, and the department
scorecard's weights. Every row here is append-only except an instruction's current state."""

from datetime import date, datetime

from sqlalchemy import Column, ForeignKey, Index
from sqlmodel import Field, SQLModel

from app.db.models import BigId, _ts
from app.db.types import utcnow


class Instruction(SQLModel, table=True):
    """A leader's 批示 on a task, a deliverable or an indicator; `state` and `respond_by` are the current ones
    (the events keep every earlier one)."""

    __tablename__ = "instructions"
    id: int | None = Field(default=None, primary_key=True)
    target_kind: str = Field(max_length=16)
    target_code: str = Field(max_length=64)
    text: str
    respond_by: date | None = None
    state: str = Field(max_length=12, index=True)
    # Replies are counted from here: the instruction's creation, or its latest reopening.
    opened_at: datetime = _ts(nullable=False, default=utcnow)
    created_by: str
    created_at: datetime = _ts(nullable=False, default=utcnow)
    updated_at: datetime = _ts(nullable=False, default=utcnow)


class InstructionDepartment(SQLModel, table=True):
    __tablename__ = "instruction_departments"
    instruction_id: int = Field(foreign_key="instructions.id", primary_key=True)
    department_code: str = Field(foreign_key="departments.code", primary_key=True, max_length=40, index=True)
    position: int


class InstructionReply(SQLModel, table=True):
    """Append-only: one department's answer to an instruction."""

    __tablename__ = "instruction_replies"
    __table_args__ = (Index("ix_instruction_replies_key", "instruction_id", "id"),)
    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    instruction_id: int = Field(foreign_key="instructions.id")
    department_code: str = Field(max_length=40)
    text: str
    key_name: str
    key_id: int | None = None
    request_id: str | None = None
    client_request_id: str | None = Field(default=None, max_length=64)
    recorded_at: datetime = _ts(nullable=False, default=utcnow)


class InstructionReplyFile(SQLModel, table=True):
    """A reply's evidence files (stored once in evidence_files, as progress reports' are)."""

    __tablename__ = "instruction_reply_files"
    reply_id: int = Field(sa_column=Column(BigId, ForeignKey("instruction_replies.id"), primary_key=True))
    file_id: int = Field(sa_column=Column(BigId, ForeignKey("evidence_files.id"), primary_key=True))
    position: int


class InstructionEvent(SQLModel, table=True):
    """Append-only: every transition of an instruction (open, answered, close, reopen), with who and when."""

    __tablename__ = "instruction_events"
    __table_args__ = (Index("ix_instruction_events_key", "instruction_id", "id"),)
    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    instruction_id: int = Field(foreign_key="instructions.id")
    action: str = Field(max_length=12)
    state: str = Field(max_length=12)
    respond_by: date | None = None
    note: str | None = None
    key_name: str
    key_id: int | None = None
    request_id: str | None = None
    client_request_id: str | None = Field(default=None, max_length=64)
    recorded_at: datetime = _ts(nullable=False, default=utcnow)


class ScorecardWeights(SQLModel, table=True):
    """Append-only: each revision of the department scorecard's weights; the latest one is in force."""

    __tablename__ = "scorecard_weights"
    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    on_time: float
    progress: float
    instructions: float
    targets: float
    key_name: str
    key_id: int | None = None
    request_id: str | None = None
    recorded_at: datetime = _ts(nullable=False, default=utcnow)
