"""Completeness report schemas (SPEC.md "Completeness")."""

from pydantic import BaseModel, Field


class ItemRead(BaseModel):
    indicator: str
    unit_code: str
    unit_name: str
    year: int
    due: str = Field(description="the last day on time: the year's end + the indicator's due_days")
    state: str = Field(description="on_time, late, missing or not_due")
    completed_at: str | None = Field(description="when the reporter's year became complete")
    value: float | None = Field(description="its yearly value A(reporter, year), complete or not")


class RatesRead(BaseModel):
    key: str
    name: str
    expected: int = Field(description="items due, plus those reported before they were due")
    reported: int
    on_time: int
    late: int
    missing: int
    not_due: int
    reporting_rate: float | None
    on_time_rate: float | None


class CompletenessReport(BaseModel):
    year: int
    date: str
    as_of: str
    items: list[ItemRead]
    units: list[RatesRead]
    indicators: list[RatesRead]
    city: RatesRead
