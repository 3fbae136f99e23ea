"""Review schemas (SPEC.md "Review and locking")."""

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from app.domain.text import clean_note, filled
from app.schemas.catalog import Line

Comment = Annotated[str, AfterValidator(clean_note), Field(max_length=1000)]


class ReviewCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    unit: Line = Field(min_length=1, max_length=64, description="Code, name or alias")
    year: int = Field(ge=1900, le=2100, strict=True)


class ReviewNote(BaseModel):
    """Optional comment of an approval."""

    model_config = ConfigDict(extra="forbid")
    comment: Comment | None = None


class ReturnBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    comment: Annotated[Comment, AfterValidator(filled)] = Field(min_length=1,
                                                                description="What the district must correct")


class UnlockBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[Comment, AfterValidator(filled)] = Field(min_length=1)


class EventRead(BaseModel):
    action: str
    state: str
    comment: str | None
    key_name: str
    recorded_at: str
    digest: str | None = Field(description="approvals: a fingerprint of the values approved")


class ReviewRead(BaseModel):
    id: int
    unit: str
    unit_name: str
    year: int
    state: str
    updated_at: str
    history: list[EventRead]
