"""key lifecycle: last use, expiry, rotation

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 02:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_used_at", app.db.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("expires_at", app.db.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("replaced_by", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("replaced_by")
        batch_op.drop_column("expires_at")
        batch_op.drop_column("last_used_at")
