"""Supervision tables (督查督办): evidence files, progress reports, extension requests and their events, and
the admin's corrections of deliverables. Every one is append-only but the request's state and the file bytes'
owner links; each change is kept with who and when."""

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Index, LargeBinary, text
from sqlmodel import Field, SQLModel

from app.db.models import BigId, _ts
from app.db.types import utcnow


class EvidenceFile(SQLModel, table=True):
    """One uploaded file (佐证材料), its bytes in the database so backups, export and import carry it. Owners
    (progress reports, replies to 批示) link to it; a file is never changed."""

    __tablename__ = "evidence_files"
    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    sha256: str = Field(max_length=64, index=True)
    size: int = Field(sa_column=Column(BigInteger, nullable=False))
    type: str = Field(max_length=8)
    name: str = Field(max_length=255)
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    key_name: str
    key_id: int | None = None
    department_code: str | None = Field(default=None, max_length=40)
    request_id: str | None = None
    created_at: datetime = _ts(nullable=False, default=utcnow)


class ProgressReport(SQLModel, table=True):
    """A department's progress report on a deliverable; never edited (a correction is a new one)."""

    __tablename__ = "progress_reports"
    __table_args__ = (Index("ix_progress_reports_key", "deliverable_code", "id"),)
    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    deliverable_code: str = Field(foreign_key="deliverables.code", max_length=16)
    summary: str
    percent: int | None = None
    next_steps: str | None = None
    expected_done_on: date | None = None
    key_name: str
    key_id: int | None = None
    department_code: str | None = Field(default=None, max_length=40)
    request_id: str | None = None
    client_request_id: str | None = Field(default=None, max_length=64)
    recorded_at: datetime = _ts(nullable=False, default=utcnow)


class ProgressReportFile(SQLModel, table=True):
    __tablename__ = "progress_report_files"
    progress_report_id: int = Field(sa_column=Column(BigId, ForeignKey("progress_reports.id"), primary_key=True))
    file_id: int = Field(sa_column=Column(BigId, ForeignKey("evidence_files.id"), primary_key=True))
    position: int


class ExtensionRequest(SQLModel, table=True):
    """A request to move a deliverable's deadline; `state` moves once, pending → approved or rejected."""

    __tablename__ = "extension_requests"
    __table_args__ = (
        # One pending request per deliverable, kept by the database itself against concurrent requests.
        Index("uq_extension_requests_pending", "deliverable_code", unique=True,
              sqlite_where=text("state = 'pending'"), postgresql_where=text("state = 'pending'")),
    )
    id: int | None = Field(default=None, primary_key=True)
    deliverable_code: str = Field(foreign_key="deliverables.code", max_length=16, index=True)
    state: str = Field(max_length=12)
    old_deadline: date
    new_deadline: date
    reason: str
    progress: str | None = None
    department_code: str | None = Field(default=None, max_length=40)
    key_name: str
    created_at: datetime = _ts(nullable=False, default=utcnow)
    decided_at: datetime | None = _ts(nullable=True)
    decided_by: str | None = None
    decision_note: str | None = None


class ExtensionEvent(SQLModel, table=True):
    """Append-only: every transition of an extension request, with who and when."""

    __tablename__ = "extension_events"
    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    extension_id: int = Field(foreign_key="extension_requests.id", index=True)
    action: str = Field(max_length=12)
    state: str = Field(max_length=12)
    note: str | None = None
    key_name: str
    key_id: int | None = None
    request_id: str | None = None
    client_request_id: str | None = Field(default=None, max_length=64)
    recorded_at: datetime = _ts(nullable=False, default=utcnow)


class DeliverableEdit(SQLModel, table=True):
    """Append-only: an admin's correction of a deliverable, holding everything it then says (the seed's values
    stand until the first one); judging at a past `as_of` reads the edit in force then."""

    __tablename__ = "deliverable_edits"
    __table_args__ = (Index("ix_deliverable_edits_key", "deliverable_code", "id"),)
    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    deliverable_code: str = Field(foreign_key="deliverables.code", max_length=16)
    title: str
    deadline: date | None = None
    departments: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    progress_days: int
    progress_from: date | None = None
    changed: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    key_name: str
    key_id: int | None = None
    request_id: str | None = None
    client_request_id: str | None = Field(default=None, max_length=64)
    recorded_at: datetime = _ts(nullable=False, default=utcnow)


class FeatureInstall(SQLModel, table=True):
    """The day a feature was installed (the progress-report count starts there unless a deliverable says
    otherwise). Written by its migration; an import replaces it with the archived store's."""

    __tablename__ = "feature_installs"
    __table_args__ = {"info": {"preset": True}}
    feature: str = Field(primary_key=True, max_length=40)
    installed_on: date
