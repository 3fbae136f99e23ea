"""audit: every revision keeps the key's id and the client's request id beside the server's

Revision ID: 0006
Revises: w013
Create Date: 2026-11-30 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0006"
down_revision: str | None = "w013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("deliverable_revisions", "catalog_revisions", "measurement_revisions", "review_events")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("key_id", sa.Integer(), nullable=True))
            batch_op.add_column(sa.Column("client_request_id", sqlmodel.sql.sqltypes.AutoString(length=64),
                                          nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("client_request_id")
            batch_op.drop_column("key_id")
