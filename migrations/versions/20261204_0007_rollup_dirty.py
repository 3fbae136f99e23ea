"""roll-up worker: dirty yearly cells

Revision ID: 0007
Revises: 0002
Create Date: 2026-12-04 15:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.db.types

revision: str = "0007"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rollup_dirty",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("indicator_code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("unit_code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("stamp", app.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollup_dirty")),
    )
    op.create_index("ix_rollup_dirty_group", "rollup_dirty", ["indicator_code", "year"])
    op.create_index("ix_rollup_dirty_stamp", "rollup_dirty", ["stamp"])


def downgrade() -> None:
    op.drop_index("ix_rollup_dirty_stamp", table_name="rollup_dirty")
    op.drop_index("ix_rollup_dirty_group", table_name="rollup_dirty")
    op.drop_table("rollup_dirty")
