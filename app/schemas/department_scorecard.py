"""Department scorecard schemas (SPEC "Supervision", 考核)."""

from pydantic import BaseModel, ConfigDict, Field

from app.schemas.catalog import Number


class WeightsBody(BaseModel):
    """Published weights: each 0–1000, not all zero (checked in the domain, with stable codes)."""

    model_config = ConfigDict(extra="forbid")
    on_time: Number
    progress: Number
    instructions: Number
    targets: Number


class WeightsRead(BaseModel):
    on_time: float
    progress: float
    instructions: float
    targets: float


class WeightsRevision(WeightsRead):
    key_name: str
    recorded_at: str


class WeightsHistory(BaseModel):
    current: WeightsRead
    history: list[WeightsRevision]


class ComponentRead(BaseModel):
    value: float | None = Field(description="A share 0–1; null when there is nothing to count (it drops out)")
    weight: float


class DeliverableCounts(BaseModel):
    total: int
    by_status: dict[str, int]
    by_light: dict[str, int]
    on_time_rate: float | None
    overdue: int
    days_overdue: int


class Pair(BaseModel):
    on_time: int
    due: int


class Extensions(BaseModel):
    requested: int
    approved: int


class DepartmentLine(BaseModel):
    rank: int | None
    score: float | None
    department: str
    name_zh: str
    name_en: str
    components: dict[str, ComponentRead]
    deliverables: DeliverableCounts
    progress: Pair
    instructions: Pair
    extensions: Extensions
    targets: dict[str, int]


class DepartmentScorecard(BaseModel):
    year: int
    date: str
    as_of: str
    weights: WeightsRead
    formula: str
    items: list[DepartmentLine]
