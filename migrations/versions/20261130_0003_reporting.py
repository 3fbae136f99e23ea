"""reporting discipline: indicator schedule and thresholds, target pace cut-offs, reviews, quality flags

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-30 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.db.types

revision: str = "0003"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("indicators", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reporters", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("min_completeness", sa.Float(), nullable=False, server_default="1.0"))
        batch_op.add_column(sa.Column("due_days", sa.Integer(), nullable=False, server_default="31"))
        batch_op.add_column(sa.Column("max_yoy_change", sa.Float(), nullable=False, server_default="0.5"))
        batch_op.add_column(sa.Column("max_yoy_points", sa.Float(), nullable=False, server_default="10.0"))
    with op.batch_alter_table("targets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("threshold_on_track", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("threshold_at_risk", sa.Float(), nullable=True))
    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("updated_at", app.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["unit_code"], ["units.code"], name=op.f("fk_reviews_unit_code_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reviews")),
        sa.UniqueConstraint("unit_code", "year", name="uq_reviews_dataset"),
    )
    op.create_table(
        "review_events",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("review_id", sa.Integer(), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("comment", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("digest", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("key_name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("request_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("recorded_at", app.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["review_id"], ["reviews.id"], name=op.f("fk_review_events_review_id_reviews")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_events")),
    )
    with op.batch_alter_table("review_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_review_events_review_id"), ["review_id"], unique=False)
    op.create_table(
        "quality_flags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("indicator_code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("unit_code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("confirmed_by", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("created_at", app.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quality_flags")),
        sa.UniqueConstraint("indicator_code", "unit_code", "year", "code", name="uq_quality_flags_key"),
    )
    with op.batch_alter_table("quality_flags", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_quality_flags_unit_code"), ["unit_code"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("quality_flags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quality_flags_unit_code"))
    op.drop_table("quality_flags")
    with op.batch_alter_table("review_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_events_review_id"))
    op.drop_table("review_events")
    op.drop_table("reviews")
    with op.batch_alter_table("targets", schema=None) as batch_op:
        batch_op.drop_column("threshold_at_risk")
        batch_op.drop_column("threshold_on_track")
    with op.batch_alter_table("indicators", schema=None) as batch_op:
        batch_op.drop_column("max_yoy_points")
        batch_op.drop_column("max_yoy_change")
        batch_op.drop_column("due_days")
        batch_op.drop_column("min_completeness")
        batch_op.drop_column("reporters")
