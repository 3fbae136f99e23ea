"""Submission and value schemas (the submission body itself is read by hand: JSON or CSV, size-capped)."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Scalar = float | str | None


class ValueIn(BaseModel):
    """One value of a submission. unit and period may also be given once for the whole body."""

    model_config = ConfigDict(extra="forbid")
    indicator: str = Field(examples=["t03-campus-network-compliance"])
    unit: str | None = Field(default=None, description="Unit code, name or alias", examples=["370211"])
    period: str | None = Field(default=None, examples=["2020", "2020Q3", "2020S1", "2020-07", "2020Sep"])
    value: Scalar = None
    numerator: Scalar = None
    denominator: Scalar = None
    comment: str | None = None


class SubmissionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    unit: str | None = None
    period: str | None = None
    values: list[ValueIn] = Field(max_length=10_000)


class Counts(BaseModel):
    created: int
    updated: int
    unchanged: int
    rejected: int


class ConflictRead(BaseModel):
    index: int = Field(description="0-based index over the data rows")
    line: int | None = Field(description="CSV line number (the header is line 1)")
    indicator: str | None
    unit: str | None
    period: str | None
    code: str = Field(description="Stable conflict code; see the README")
    detail: str


class WarningRead(BaseModel):
    index: int
    code: str = Field(description="outlier_yoy or outlier_peers: the value was stored, but looks implausible")
    detail: str


class SubmissionResult(BaseModel):
    result: Literal["success", "partial", "dry_run"]
    counts: Counts
    conflicts: list[ConflictRead]
    warnings: list[WarningRead] = []


class ValueRead(BaseModel):
    indicator: str
    unit: str
    period: str
    period_type: str
    period_start: str
    period_end: str
    year: int
    value: float | None
    numerator: float | None
    denominator: float | None
    comment: str | None
    recorded_at: str | None


class ValuePage(BaseModel):
    items: list[ValueRead]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null on the last page")


class RevisionRead(BaseModel):
    id: int
    action: Literal["create", "update", "delete"]
    value: float | None
    old_value: float | None
    numerator: float | None
    denominator: float | None
    comment: str | None
    key_name: str
    request_id: str | None
    key_id: int | None = None
    client_request_id: str | None = None
    recorded_at: str


class DeletedRead(BaseModel):
    deleted: ValueRead


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """A model's JSON schema with its $defs inlined, for hand-written OpenAPI request bodies."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return walk(defs[ref.rsplit("/", 1)[1]])
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(schema)  # type: ignore[no-any-return]
