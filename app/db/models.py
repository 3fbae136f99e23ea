"""Table definitions. Catalog tables mirror seeds/; values and revisions are append-friendly."""

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Column, Index, Integer, MetaData, UniqueConstraint, false
from sqlmodel import Field, SQLModel

from app.db.types import UTCDateTime, utcnow

# Stable constraint names make migrations portable between SQLite and PostgreSQL.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata: MetaData = SQLModel.metadata

# BigInteger ids that still autoincrement on SQLite (which only does so for INTEGER PRIMARY KEY).
BigId = BigInteger().with_variant(Integer(), "sqlite")


def _ts(**kw: Any) -> Any:
    return Field(sa_column=Column(UTCDateTime(), **kw))


class Action(SQLModel, table=True):
    __tablename__ = "actions"
    number: int = Field(primary_key=True)
    title_zh: str
    title_en: str


class Department(SQLModel, table=True):
    __tablename__ = "departments"
    code: str = Field(primary_key=True, max_length=40)
    name_zh: str = Field(unique=True)
    name_en: str
    aliases: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class Task(SQLModel, table=True):
    __tablename__ = "tasks"
    number: int = Field(primary_key=True)
    action_number: int = Field(foreign_key="actions.number", index=True)
    text: str


class TaskDepartment(SQLModel, table=True):
    __tablename__ = "task_departments"
    task_number: int = Field(foreign_key="tasks.number", primary_key=True)
    department_code: str = Field(foreign_key="departments.code", primary_key=True, max_length=40)
    position: int


class PlanRow(SQLModel, table=True):
    __tablename__ = "plan_rows"
    seq: int = Field(primary_key=True)
    number: str
    problem: str
    policies: str
    measures: str
    expected_effect: str
    deadline_text: str
    deadline: date | None = None
    departments_text: str


class PlanRowTask(SQLModel, table=True):
    __tablename__ = "plan_row_tasks"
    plan_row_seq: int = Field(foreign_key="plan_rows.seq", primary_key=True)
    task_number: int = Field(foreign_key="tasks.number", primary_key=True)


class PlanRowDepartment(SQLModel, table=True):
    __tablename__ = "plan_row_departments"
    plan_row_seq: int = Field(foreign_key="plan_rows.seq", primary_key=True)
    department_code: str = Field(foreign_key="departments.code", primary_key=True, max_length=40)
    position: int


class Deliverable(SQLModel, table=True):
    """An item of an Annex 2 row's policies column, with its current report (the latest revision)."""

    __tablename__ = "deliverables"
    code: str = Field(primary_key=True, max_length=16)
    plan_row_seq: int = Field(foreign_key="plan_rows.seq", index=True)
    n: int
    source: str = Field(max_length=16)
    title: str
    deadline: date | None = None
    note: str = ""
    state: str = Field(default="planned", max_length=16)
    done_on: date | None = None
    document_no: str | None = None
    url: str | None = None
    report_note: str | None = None
    reported_at: datetime | None = _ts(nullable=True)
    reported_by: str | None = None


class DeliverableDepartment(SQLModel, table=True):
    __tablename__ = "deliverable_departments"
    deliverable_code: str = Field(foreign_key="deliverables.code", primary_key=True, max_length=16)
    department_code: str = Field(foreign_key="departments.code", primary_key=True, max_length=40)
    position: int


class DeliverableRevision(SQLModel, table=True):
    """Append-only: one row per report on a deliverable."""

    __tablename__ = "deliverable_revisions"
    __table_args__ = (Index("ix_deliverable_revisions_key", "deliverable_code", "id"),)
    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    deliverable_code: str = Field(max_length=16)
    state: str = Field(max_length=16)
    done_on: date | None = None
    document_no: str | None = None
    url: str | None = None
    note: str | None = None
    old_state: str | None = Field(default=None, max_length=16)
    key_name: str
    department_code: str | None = Field(default=None, max_length=40)
    request_id: str | None = None
    key_id: int | None = None
    client_request_id: str | None = Field(default=None, max_length=64)
    recorded_at: datetime = _ts(nullable=False, default=utcnow)


class Unit(SQLModel, table=True):
    __tablename__ = "units"
    code: str = Field(primary_key=True, max_length=32)
    name: str
    name_en: str | None = None
    parent_code: str | None = Field(default=None, foreign_key="units.code", index=True, max_length=32)
    level: str = Field(max_length=16)
    aliases: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class RetiredUnit(SQLModel, table=True):
    __tablename__ = "retired_units"
    code: str = Field(primary_key=True, max_length=32)
    name: str
    current_code: str = Field(foreign_key="units.code", max_length=32)


class Indicator(SQLModel, table=True):
    __tablename__ = "indicators"
    code: str = Field(primary_key=True, max_length=64)
    task_number: int = Field(foreign_key="tasks.number", index=True)
    name_zh: str
    name_en: str
    unit: str = Field(max_length=32)
    measure: str = Field(max_length=8)
    direction: str = Field(max_length=4)
    level: str = Field(max_length=16)
    frequency: str = Field(max_length=16)
    min_value: float | None = None
    max_value: float | None = None
    source: str = ""
    # Reporting discipline (SPEC.md "Reporting"): who must report (null: every unit at `level`), by when,
    # how complete a parent must be to be judged, and when a yearly change is implausible.
    reporters: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    min_completeness: float = 1.0
    due_days: int = 31
    max_yoy_change: float = 0.5
    max_yoy_points: float = 10.0


class Target(SQLModel, table=True):
    __tablename__ = "targets"
    __table_args__ = (UniqueConstraint("indicator_code", "unit_code", "kind", "year", name="uq_targets_key"),)
    id: int | None = Field(default=None, primary_key=True)
    indicator_code: str = Field(foreign_key="indicators.code", index=True, max_length=64)
    unit_code: str = Field(foreign_key="units.code", max_length=32)
    kind: str = Field(max_length=16)
    op: str = Field(max_length=2)
    value: float
    year: int | None = None
    year_from: int | None = None
    baseline_value: float | None = None
    baseline_year: int | None = None
    threshold_on_track: float | None = None
    threshold_at_risk: float | None = None
    note: str = ""
    seed_key: str | None = Field(default=None, max_length=200)


class CatalogRevision(SQLModel, table=True):
    """Every create, update and delete of an indicator or target, with the state after it."""

    __tablename__ = "catalog_revisions"
    __table_args__ = (Index("ix_catalog_revisions_entity", "entity", "entity_key", "recorded_at"),)
    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    entity: str = Field(max_length=16)
    entity_key: str = Field(max_length=200)
    action: str = Field(max_length=8)
    data: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    old: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    key_name: str
    request_id: str | None = None
    # Who, exactly: names may repeat over time; the id does not. The client's own X-Request-ID, kept beside ours.
    key_id: int | None = None
    client_request_id: str | None = Field(default=None, max_length=64)
    recorded_at: datetime = _ts(nullable=False, default=utcnow)


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_keys"
    id: int | None = Field(default=None, primary_key=True)
    name: str
    role: str = Field(max_length=16)
    unit_code: str | None = Field(default=None, foreign_key="units.code", max_length=32)
    department_code: str | None = Field(default=None, foreign_key="departments.code", max_length=40)
    prefix: str = Field(index=True, max_length=16)
    key_hash: str = Field(max_length=64)
    created_at: datetime = _ts(nullable=False, default=utcnow)
    revoked_at: datetime | None = _ts(nullable=True)
    last_used_at: datetime | None = _ts(nullable=True)
    expires_at: datetime | None = _ts(nullable=True)
    # Set on a key rotated out: the key that replaced it (same name), active while this one's grace lasts.
    replaced_by: int | None = None


class Measurement(SQLModel, table=True):
    """The current value of (indicator, unit, period); a delete keeps the row, flagged."""

    __tablename__ = "measurements"
    __table_args__ = (
        UniqueConstraint("indicator_code", "unit_code", "period", name="uq_measurements_key"),
        Index("ix_measurements_unit_year", "unit_code", "year"),
    )
    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    indicator_code: str = Field(foreign_key="indicators.code", max_length=64)
    unit_code: str = Field(foreign_key="units.code", max_length=32)
    period: str = Field(max_length=16)
    period_type: str = Field(max_length=16)
    period_start: date
    period_end: date
    year: int
    value: float | None = None
    numerator: float | None = None
    denominator: float | None = None
    comment: str | None = None
    deleted: bool = False
    # A flow's live periods may not overlap: PostgreSQL holds that with an exclusion constraint over these rows
    # (migration 0002), so even concurrent submissions cannot both store overlapping periods.
    is_flow: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default=false()))
    updated_at: datetime = _ts(nullable=False, default=utcnow)


class MeasurementRevision(SQLModel, table=True):
    """Append-only: one row per create, update and delete of a measurement."""

    __tablename__ = "measurement_revisions"
    __table_args__ = (
        Index("ix_measurement_revisions_key", "indicator_code", "unit_code", "period", "id"),
        Index("ix_measurement_revisions_recorded_at", "recorded_at"),
    )
    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    indicator_code: str = Field(max_length=64)
    unit_code: str = Field(max_length=32)
    period: str = Field(max_length=16)
    period_type: str = Field(max_length=16)
    period_start: date
    period_end: date
    year: int
    action: str = Field(max_length=8)
    value: float | None = None
    numerator: float | None = None
    denominator: float | None = None
    comment: str | None = None
    old_value: float | None = None
    key_name: str
    request_id: str | None = None
    # Who, exactly: names may repeat over time; the id does not. The client's own X-Request-ID, kept beside ours.
    key_id: int | None = None
    client_request_id: str | None = Field(default=None, max_length=64)
    recorded_at: datetime = _ts(nullable=False, default=utcnow)


class KeptState(SQLModel):
    """A unit's kept yearly row: its own value, its children's sums, and the effective A(u, y) they make.

    `own_*` come from the unit's own live periods (`own_covers`: ATTAINMENT.md "covers"); `kids_*` are the sums of
    its direct children's effective values (rates: numerators and denominators), `kids_count` how many children
    count, `kids_period*` the latest-ending of their periods. `value` … `reported` are the effective A(u, y) —
    own if any, else the aggregate of the sums — and are NULL when the unit has no value that year.
    """

    value: float | None = None
    numerator: float | None = None
    denominator: float | None = None
    period: str | None = Field(default=None, max_length=16)
    period_start: date | None = None
    period_end: date | None = None
    own: bool = False
    reported: int = 0
    total: int = 0
    own_value: float | None = None
    own_numerator: float | None = None
    own_denominator: float | None = None
    own_period: str | None = Field(default=None, max_length=16)
    own_period_start: date | None = None
    own_period_end: date | None = None
    own_covers: bool = False
    kids_value: float = 0.0
    kids_numerator: float = 0.0
    kids_denominator: float = 0.0
    kids_count: int = 0
    kids_period: str | None = Field(default=None, max_length=16)
    kids_period_start: date | None = None
    kids_period_end: date | None = None


class YearlyValue(KeptState, table=True):
    """Kept yearly rows: one per (indicator, unit, year) ever written, maintained by every write's last statements."""

    __tablename__ = "yearly_values"
    indicator_code: str = Field(primary_key=True, max_length=64)
    unit_code: str = Field(primary_key=True, max_length=32)
    year: int = Field(primary_key=True)
    updated_at: datetime = _ts(nullable=False, default=utcnow)


class YearlyValueRevision(KeptState, table=True):
    """Append-only: the state of a kept yearly row after each change, valid from recorded_at until the next one."""

    __tablename__ = "yearly_value_revisions"
    __table_args__ = (Index("ix_yearly_value_revisions_key", "indicator_code", "unit_code", "year", "recorded_at"),)
    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    indicator_code: str = Field(max_length=64)
    unit_code: str = Field(max_length=32)
    year: int
    recorded_at: datetime = _ts(nullable=False)


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_records"
    api_key_id: int = Field(primary_key=True)
    key: str = Field(primary_key=True, max_length=255)
    fingerprint: str = Field(max_length=64)
    state: str = Field(max_length=12)
    status_code: int | None = None
    body: str | None = None
    media_type: str | None = None
    created_at: datetime = _ts(nullable=False, default=utcnow)
    lease_until: datetime = _ts(nullable=False)


class ServiceSecret(SQLModel, table=True):
    """Secrets the service makes for itself (the web session signing key): one row per name, shared by workers."""

    __tablename__ = "service_secrets"
    __table_args__ = {"info": {"archived": False}}  # never exported (app.db.archive)
    name: str = Field(primary_key=True, max_length=40)
    value: str = Field(max_length=200)
    created_at: datetime = _ts(nullable=False, default=utcnow)


class WebSession(SQLModel, table=True):
    """A leaders' page session. The cookie carries its id (signed); only the id's hash is kept, and signing out
    revokes the row, so a copied cookie is dead for every worker at the next request."""

    __tablename__ = "web_sessions"
    __table_args__ = {"info": {"archived": False}}  # sessions do not survive a move to another store
    id_hash: str = Field(primary_key=True, max_length=64)
    key_id: int = Field(foreign_key="api_keys.id", index=True)
    created_at: datetime = _ts(nullable=False, default=utcnow)
    expires_at: datetime = _ts(nullable=False, index=True)
    revoked_at: datetime | None = _ts(nullable=True)


class Review(SQLModel, table=True):
    """One dataset (a unit and a year, everything below included) and where it stands in review."""

    __tablename__ = "reviews"
    __table_args__ = (UniqueConstraint("unit_code", "year", name="uq_reviews_dataset"),)
    id: int | None = Field(default=None, primary_key=True)
    unit_code: str = Field(foreign_key="units.code", max_length=32)
    year: int
    state: str = Field(max_length=12)
    updated_at: datetime = _ts(nullable=False, default=utcnow)


class ReviewEvent(SQLModel, table=True):
    """Append-only: every transition of a review, with who and when."""

    __tablename__ = "review_events"
    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    review_id: int = Field(foreign_key="reviews.id", index=True)
    action: str = Field(max_length=12)
    state: str = Field(max_length=12)
    comment: str | None = None
    digest: str | None = Field(default=None, max_length=64)  # approvals: the values they saw
    key_name: str
    request_id: str | None = None
    # Who, exactly: names may repeat over time; the id does not. The client's own X-Request-ID, kept beside ours.
    key_id: int | None = None
    client_request_id: str | None = Field(default=None, max_length=64)
    recorded_at: datetime = _ts(nullable=False, default=utcnow)


class QualityFlag(SQLModel, table=True):
    """A yearly value that looks implausible (never blocking); re-evaluated when a value it compares changes."""

    __tablename__ = "quality_flags"
    __table_args__ = (UniqueConstraint("indicator_code", "unit_code", "year", "code", name="uq_quality_flags_key"),)
    id: int | None = Field(default=None, primary_key=True)
    indicator_code: str = Field(max_length=64)
    unit_code: str = Field(max_length=32, index=True)
    year: int
    code: str = Field(max_length=16)
    state: str = Field(max_length=12)
    value: float
    figures: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    note: str | None = None
    confirmed_by: str | None = None
    created_at: datetime = _ts(nullable=False, default=utcnow)
    updated_at: datetime = _ts(nullable=False, default=utcnow)


class DirtyCell(SQLModel, table=True):
    """A yearly cell whose values changed and whose kept rows (its own and its ancestors') wait for the roll-up.

    Written by the write that changed it, in the write's transaction, with the write's stamp; removed by the roll-up
    that brings the kept rows up to date, in its transaction — so a crash loses nothing and rolls nothing up twice.
    Rows are appended, never updated: concurrent writers of one cell never meet on a row. Exported like every
    table, so an archive taken mid-roll-up is rolled up by the server that imports it."""

    __tablename__ = "rollup_dirty"
    __table_args__ = (Index("ix_rollup_dirty_group", "indicator_code", "year"),
                      Index("ix_rollup_dirty_stamp", "stamp"))
    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    indicator_code: str = Field(max_length=64)
    unit_code: str = Field(max_length=32)
    year: int
    stamp: datetime = _ts(nullable=False)


# The supervision and reminders tables live in their own modules; importing them here puts them in every metadata
# user's view.
from app.db import instruction_models, models_supervision, notify_models  # noqa: E402,F401
