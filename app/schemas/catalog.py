"""Catalog schemas: `XRead` out, `XCreate`/`XUpdate` in (unknown fields refused)."""

from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from app.domain.text import clean_label, clean_line, clean_name, clean_note

# Every text field passes one rule (app.domain.text): stored NFC and trimmed, no control, format or bidi
# characters. One line: a title, a unit or parent given by code or name.
Line = Annotated[str, AfterValidator(clean_line)]
# Free text over lines (a note, a source): line feeds allowed.
Text = Annotated[str, AfterValidator(clean_note)]
# What a key's holder is called: one line, not empty; compared NFKC-casefolded.
Label = Annotated[str, AfterValidator(clean_label)]
# A name submissions refer to a unit by: a label without runs of spaces.
Name = Annotated[str, AfterValidator(clean_name)]
# Numbers as JSON numbers: true/false are not 1/0.
Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]

Kind = Literal["reach", "every_year", "each_unit"]
Op = Literal[">=", "<="]
Measure = Literal["rate", "stock", "flow"]
Frequency = Literal["month", "quarter", "semester", "year"]
Level = Literal["district", "city"]


class ActionRead(BaseModel):
    number: int
    title_zh: str
    title_en: str
    tasks: list[int]


class DepartmentRead(BaseModel):
    code: str
    name_zh: str
    name_en: str
    aliases: list[str]
    tasks: list[int]


class PlanRowRead(BaseModel):
    seq: int
    number: str
    tasks: list[int]
    problem: str
    policies: str
    measures: str
    expected_effect: str
    deadline_text: str
    deadline: date | None
    departments: list[str]
    departments_text: str


class TaskRead(BaseModel):
    number: int
    action: int
    text: str
    departments: list[str] = Field(description="Department codes; the first leads.")
    lead_department: str
    plan_rows: list[int] = Field(description="seq of the Annex 2 rows covering this task")


class TaskDetail(TaskRead):
    plan_row_details: list[PlanRowRead]
    indicators: list[str]


class UnitRead(BaseModel):
    code: str
    name: str
    name_en: str | None
    parent: str | None
    level: str
    aliases: list[str]


class RetiredUnitRead(BaseModel):
    code: str
    name: str
    current: str


class Baseline(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: Number
    year: int = Field(ge=1990, le=2100, strict=True)


class Thresholds(BaseModel):
    """Pace cut-offs of one target (docs/ATTAINMENT.md); default {0.95, 0.6}."""

    model_config = ConfigDict(extra="forbid")
    on_track: Number = Field(gt=0, le=10)
    at_risk: Number = Field(ge=0, le=10)

    @model_validator(mode="after")
    def _order(self) -> "Thresholds":
        if self.at_risk > self.on_track:
            raise ValueError("at_risk must not exceed on_track")
        return self


class TargetRead(BaseModel):
    id: int
    indicator: str
    unit: str
    kind: Kind
    op: Op
    value: float
    year: int | None
    year_from: int | None
    baseline: Baseline | None
    thresholds: Thresholds
    note: str


class IndicatorRead(BaseModel):
    code: str
    task: int
    action: int
    name_zh: str
    name_en: str
    unit: str
    measure: Measure
    direction: Literal["up", "down"]
    level: Level
    frequency: Frequency
    min: float | None
    max: float | None
    source: str
    departments: list[str]
    reporters: list[str] = Field(description="Units that must report it (every unit at its level unless set)")
    reporters_set: bool = Field(description="Whether an admin set the list (else the level's default)")
    min_completeness: float
    due_days: int
    max_yoy_change: float
    max_yoy_points: float


class IndicatorDetail(IndicatorRead):
    targets: list[TargetRead]


class IndicatorUpdate(BaseModel):
    """Fields an admin may change on an indicator; omitted fields stay as they are."""

    model_config = ConfigDict(extra="forbid")
    name_zh: Line | None = Field(default=None, min_length=1, max_length=200)
    name_en: Line | None = Field(default=None, min_length=1, max_length=200)
    unit: str | None = Field(default=None, pattern=r"^[a-z][a-z-]{0,31}$")
    measure: Measure | None = None
    direction: Literal["up", "down"] | None = None
    level: Level | None = None
    frequency: Frequency | None = None
    min: Number | None = None
    max: Number | None = None
    source: Text | None = Field(default=None, max_length=2000)
    min_completeness: Number | None = Field(default=None, ge=0, le=1)
    due_days: int | None = Field(default=None, ge=0, le=3660, strict=True)
    max_yoy_change: Number | None = Field(default=None, gt=0, le=1e6)
    max_yoy_points: Number | None = Field(default=None, gt=0, le=100)


class IndicatorCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(pattern=r"^t\d{2}-[a-z0-9-]{1,56}$")
    task: int = Field(ge=1, le=999)
    name_zh: Line = Field(min_length=1, max_length=200)
    name_en: Line = Field(min_length=1, max_length=200)
    unit: str = Field(pattern=r"^[a-z][a-z-]{0,31}$")
    measure: Measure
    direction: Literal["up", "down"] = "up"
    level: Level = "district"
    frequency: Frequency = "year"
    min: Number | None = 0
    max: Number | None = None
    source: Text = Field(default="", max_length=2000)
    min_completeness: Number | None = Field(default=None, ge=0, le=1)
    due_days: int | None = Field(default=None, ge=0, le=3660, strict=True)
    max_yoy_change: Number | None = Field(default=None, gt=0, le=1e6)
    max_yoy_points: Number | None = Field(default=None, gt=0, le=100)

    @model_validator(mode="after")
    def _bounds(self) -> "IndicatorCreate":
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min must not exceed max")
        return self


class TargetCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    unit: Line = Field(default="370200", min_length=1, max_length=32)
    kind: Kind = "reach"
    op: Op = ">="
    value: Number = Field(ge=-1e15, le=1e15)
    year: int | None = Field(default=None, ge=1990, le=2100)
    year_from: int | None = Field(default=None, ge=1990, le=2100)
    baseline: Baseline | None = None
    thresholds: Thresholds | None = None
    note: Text = Field(default="", max_length=2000)

    @model_validator(mode="after")
    def _window(self) -> "TargetCreate":
        if self.year_from is not None and self.year is not None and self.year_from > self.year:
            raise ValueError("year_from must not be after year")
        if self.kind == "each_unit" and self.year is None:
            raise ValueError("an each_unit target needs a year")
        return self


class TargetUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    op: Op | None = None
    value: Number | None = Field(default=None, ge=-1e15, le=1e15)
    year: int | None = Field(default=None, ge=1990, le=2100)
    year_from: int | None = Field(default=None, ge=1990, le=2100)
    baseline: Baseline | None = None
    thresholds: Thresholds | None = None
    note: Text | None = Field(default=None, max_length=2000)


class ReportersUpdate(BaseModel):
    """An indicator's reporter list; `null` goes back to every unit at its level."""

    model_config = ConfigDict(extra="forbid")
    units: list[Annotated[Line, Field(min_length=1, max_length=64)]] | None = Field(max_length=100_000)


class UnitCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(pattern=r"^[0-9A-Za-z][0-9A-Za-z_-]{1,31}$")
    name: Name = Field(min_length=1, max_length=100)
    name_en: Name | None = Field(default=None, max_length=100)
    parent: Line = Field(min_length=1, max_length=32)
    level: Literal["district", "school"] = "school"
    aliases: list[Annotated[Name, Field(min_length=1, max_length=100)]] = Field(default_factory=list, max_length=10)


class RevisionRead(BaseModel):
    id: int
    entity: str
    key: str
    action: str
    data: dict[str, object] | None
    old: dict[str, object] | None
    key_name: str
    request_id: str | None
    key_id: int | None = None
    client_request_id: str | None = None
    recorded_at: str
