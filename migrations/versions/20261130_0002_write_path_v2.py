"""write path v2: kept yearly rows with own values and children's sums, their revisions, the flow overlap guard

Revision ID: 0002
Revises: 0006
Create Date: 2026-11-30 02:00:00

The kept rows are derived data: they are emptied here and rebuilt from the stored values by `attain migrate` /
`attain serve` (app.db.yearly.rebuild), which also starts their revision history.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.db.types

revision: str = '0002'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STR16 = sqlmodel.sql.sqltypes.AutoString(length=16)


def _state_columns() -> list[sa.Column]:
    return [
        sa.Column('value', sa.Float(), nullable=True),
        sa.Column('numerator', sa.Float(), nullable=True),
        sa.Column('denominator', sa.Float(), nullable=True),
        sa.Column('period', _STR16, nullable=True),
        sa.Column('period_start', sa.Date(), nullable=True),
        sa.Column('period_end', sa.Date(), nullable=True),
        sa.Column('own', sa.Boolean(), nullable=False),
        sa.Column('reported', sa.Integer(), nullable=False),
        sa.Column('total', sa.Integer(), nullable=False),
        sa.Column('own_value', sa.Float(), nullable=True),
        sa.Column('own_numerator', sa.Float(), nullable=True),
        sa.Column('own_denominator', sa.Float(), nullable=True),
        sa.Column('own_period', _STR16, nullable=True),
        sa.Column('own_period_start', sa.Date(), nullable=True),
        sa.Column('own_period_end', sa.Date(), nullable=True),
        sa.Column('own_covers', sa.Boolean(), nullable=False),
        sa.Column('kids_value', sa.Float(), nullable=False),
        sa.Column('kids_numerator', sa.Float(), nullable=False),
        sa.Column('kids_denominator', sa.Float(), nullable=False),
        sa.Column('kids_count', sa.Integer(), nullable=False),
        sa.Column('kids_period', _STR16, nullable=True),
        sa.Column('kids_period_start', sa.Date(), nullable=True),
        sa.Column('kids_period_end', sa.Date(), nullable=True),
    ]


def upgrade() -> None:
    op.drop_table('yearly_values')
    op.create_table('yearly_values',
    *_state_columns(),
    sa.Column('indicator_code', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('unit_code', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('updated_at', app.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('indicator_code', 'unit_code', 'year', name=op.f('pk_yearly_values'))
    )
    op.create_table('yearly_value_revisions',
    *_state_columns(),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('indicator_code', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('unit_code', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('recorded_at', app.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_yearly_value_revisions'))
    )
    with op.batch_alter_table('yearly_value_revisions', schema=None) as batch_op:
        batch_op.create_index('ix_yearly_value_revisions_key', ['indicator_code', 'unit_code', 'year', 'recorded_at'],
                              unique=False)
    with op.batch_alter_table('measurements', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_flow', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.execute("UPDATE measurements SET is_flow = (SELECT i.measure = 'flow' FROM indicators i "
               "WHERE i.code = measurements.indicator_code)")
    if op.get_bind().dialect.name == 'postgresql':
        # Live periods of one flow and unit never overlap, whoever writes them and however concurrently.
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        op.execute(
            "ALTER TABLE measurements ADD CONSTRAINT ex_measurements_flow_overlap EXCLUDE USING gist "
            "(indicator_code WITH =, unit_code WITH =, daterange(period_start, period_end, '[]') WITH &&) "
            "WHERE (is_flow AND NOT deleted)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("ALTER TABLE measurements DROP CONSTRAINT IF EXISTS ex_measurements_flow_overlap")
    with op.batch_alter_table('measurements', schema=None) as batch_op:
        batch_op.drop_column('is_flow')
    with op.batch_alter_table('yearly_value_revisions', schema=None) as batch_op:
        batch_op.drop_index('ix_yearly_value_revisions_key')
    op.drop_table('yearly_value_revisions')
    op.drop_table('yearly_values')
    op.create_table('yearly_values',
    sa.Column('indicator_code', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('unit_code', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('numerator', sa.Float(), nullable=True),
    sa.Column('denominator', sa.Float(), nullable=True),
    sa.Column('period', _STR16, nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('own', sa.Boolean(), nullable=False),
    sa.Column('reported', sa.Integer(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('updated_at', app.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('indicator_code', 'unit_code', 'year', name=op.f('pk_yearly_values'))
    )
