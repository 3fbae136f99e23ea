"""Plan deliverable schemas: the list, one report, its history, the summary and a task's scorecard."""

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.schemas.attainment import AttainmentRow

# A backstop only: the report check gives each field its own limit and a stable code.
_LOOSE = 100_000


class ReportWrite(BaseModel):
    """PUT /deliverables/{code}/report. Every field is checked by the report rules (stable codes)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"state": "done", "done_on": "2019-11-20", "document_no": "青教发〔2019〕12号",
         "url": "http://edu.qingdao.gov.cn/n32561912/n32561915/191120.html"}]})
    state: str | None = Field(default=None, max_length=_LOOSE, description="planned, in_progress, done, dropped")
    done_on: str | None = Field(default=None, max_length=_LOOSE, description="YYYY-MM-DD; required for done")
    document_no: str | None = Field(default=None, max_length=_LOOSE, description="文号, e.g. 青教发〔2019〕12号")
    url: str | None = Field(default=None, max_length=_LOOSE, description="http(s) address of the document")
    note: str | None = Field(default=None, max_length=_LOOSE, description="Required for dropped; ≤ 2000 characters")


class ReportRead(BaseModel):
    state: str
    done_on: date | None
    document_no: str | None
    url: str | None
    note: str | None
    reported_at: datetime | None
    reported_by: str | None


class DeliverableRead(BaseModel):
    code: str
    row: int = Field(description="Position 1–33 of the Annex 2 row")
    row_number: str = Field(description="The row's 序号 as printed")
    n: int
    title: str
    source: str = Field(description="policies (an item of the policies column) or problem (empty column)")
    tasks: list[int]
    actions: list[int]
    deadline: date | None
    deadline_text: str
    departments: list[str] = Field(description="Department codes, lead first")
    lead_department: str | None
    status: str
    report: ReportRead
    effective_deadline: date | None = Field(default=None, description="deadline, or an approved extension's later "
                                                                      "date")
    light: str = Field(default="grey", description="red, yellow, green or grey (SPEC \"Supervision\")")
    extension_pending: bool = False
    progress_days: int = 30
    progress_from: date | None = None
    last_progress_on: date | None = None
    progress_due_on: date | None = Field(default=None, description="when the next progress report is due")
    progress_overdue: bool = False


class DeliverableList(BaseModel):
    date: str
    as_of: str
    items: list[DeliverableRead]


class ReportAnswer(BaseModel):
    changed: bool = Field(description="false when the report repeated the current one (no new revision)")
    revision_id: int | None
    deliverable: DeliverableRead


class RevisionRead(BaseModel):
    """One entry of a deliverable's history: a report, an admin's correction (`kind: edit`, with `changes`) or
    an extension request's step (`kind: extension`); together they show every deadline it has had."""

    kind: str = Field(default="report", description="report, edit or extension")
    id: int
    state: str | None = None
    old_state: str | None = None
    done_on: date | None = None
    document_no: str | None = None
    url: str | None = None
    note: str | None = None
    key_name: str
    department: str | None = None
    request_id: str | None = None
    key_id: int | None = None
    client_request_id: str | None = None
    recorded_at: datetime
    changes: dict[str, Any] | None = Field(default=None, description="edit: the fields it changed, new values")
    extension_id: int | None = None
    action: str | None = Field(default=None, description="extension: request, approve or reject")
    old_deadline: date | None = None
    new_deadline: date | None = None


class GroupRead(BaseModel):
    key: str
    name_zh: str
    name_en: str
    total: int
    counts: dict[str, int]
    on_time_rate: float | None = Field(description="done_on_time / (done_on_time + done_after_extension + "
                                                   "done_late + overdue); null if 0")


class PlanSummary(BaseModel):
    date: str
    as_of: str
    total: GroupRead
    by_action: list[GroupRead]
    by_department: list[GroupRead]


class Worst(BaseModel):
    targets: str | None = Field(description="The worst attainment status of the task's target rows")
    deliverables: str | None = Field(description="The worst status of the task's deliverables")


class Scorecard(BaseModel):
    task: int
    action: int
    text: str
    departments: list[str]
    date: str
    as_of: str
    worst: Worst
    targets: list[AttainmentRow]
    deliverables: list[DeliverableRead]
