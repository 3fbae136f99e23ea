"""Attainment report schemas."""

from pydantic import BaseModel, Field


class Actual(BaseModel):
    value: float
    year: int
    period: str | None


class BaselineRead(BaseModel):
    value: float
    year: int | None


class YearRead(BaseModel):
    year: int
    value: float | None
    met: bool | None
    missing: bool
    pending: bool
    incomplete: bool = Field(description="shown, never judged: not every expected unit reported")


class Completeness(BaseModel):
    reported: int = Field(description="expected direct children whose value for the year shown is complete")
    expected: int = Field(description="direct children that report the indicator or have reporters below")


class Partial(BaseModel):
    """The latest year shown but not judged (incomplete)."""

    value: float
    year: int
    period: str


class AttainmentRow(BaseModel):
    target_id: int
    indicator: str
    indicator_name_zh: str
    indicator_name_en: str
    measure_unit: str = Field(description="percent, yuan or a count noun")
    task: int
    action: int
    departments: list[str]
    unit_code: str
    unit_name: str
    kind: str
    op: str
    target: float
    target_year: int | None
    year_from: int | None
    inherited: bool
    parent_unit: str | None
    status: str
    light: str = Field(default="grey", description="red, yellow, green or grey (SPEC \"Supervision\")")
    met: bool | None
    actual: Actual | None
    baseline: BaselineRead | None
    projection: float | None
    pace: float | None
    progress: float | None
    attainment_ratio: float | None
    deadline_passed: bool
    years: list[YearRead]
    units_met: int | None
    units_total: int | None
    complete: Completeness | None = Field(description="of the year shown (partial, else actual); aggregated rows")
    reason: str | None = Field(description="why insufficient_data: 'incomplete' when the judged year is")
    trend: str | None = Field(description="improving, worsening or flat, with two complete years")
    partial: Partial | None


class AttainmentReport(BaseModel):
    date: str
    as_of: str
    rows: list[AttainmentRow]


class StatusCounts(BaseModel):
    key: str
    name_zh: str
    name_en: str
    total: int
    counts: dict[str, int]


class UnitCompleteness(BaseModel):
    """A unit's reporting for the latest year already due (SPEC.md "Completeness")."""

    year: int | None
    expected: int
    reported: int
    on_time: int
    reporting_rate: float | None
    on_time_rate: float | None


class SummaryReport(BaseModel):
    date: str
    as_of: str
    unit: str
    department: str | None
    completeness: UnitCompleteness
    total: StatusCounts
    by_action: list[StatusCounts]
    by_department: list[StatusCounts]


class YearlyValueRead(BaseModel):
    year: int
    value: float = Field(description="A(u, y): own value or children's aggregate (partial when incomplete)")
    own: bool = Field(description="the unit's own value rather than an aggregate of its children")
    incomplete: bool = Field(description="shown, never judged: not every expected unit reported, or own periods do "
                                         "not cover the year")
    complete: Completeness | None = Field(description="direct children reported / expected, for an aggregate")


class UnitYears(BaseModel):
    unit_code: str
    unit_name: str
    years: list[YearlyValueRead]


class YearlyReport(BaseModel):
    indicator: str
    date: str
    as_of: str
    units: list[UnitYears]
