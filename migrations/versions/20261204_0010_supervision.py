"""supervision: evidence files, progress reports, extension requests, deliverable corrections

Revision ID: 0010
Revises: 0002
Create Date: 2026-12-04 14:50:55.939356
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.db.types
from app import clock

revision: str = '0010'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('evidence_files',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('type', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('key_name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('key_id', sa.Integer(), nullable=True),
    sa.Column('department_code', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('request_id', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('created_at', app.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evidence_files'))
    )
    with op.batch_alter_table('evidence_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_evidence_files_sha256'), ['sha256'], unique=False)

    op.create_table('feature_installs',
    sa.Column('feature', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('installed_on', sa.Date(), nullable=False),
    sa.PrimaryKeyConstraint('feature', name=op.f('pk_feature_installs')),
    info={'preset': True}
    )
    op.create_table('deliverable_edits',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('deliverable_code', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('deadline', sa.Date(), nullable=True),
    sa.Column('departments', sa.JSON(), nullable=False),
    sa.Column('progress_days', sa.Integer(), nullable=False),
    sa.Column('progress_from', sa.Date(), nullable=True),
    sa.Column('changed', sa.JSON(), nullable=False),
    sa.Column('key_name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('key_id', sa.Integer(), nullable=True),
    sa.Column('request_id', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('client_request_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('recorded_at', app.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['deliverable_code'], ['deliverables.code'], name=op.f('fk_deliverable_edits_deliverable_code_deliverables')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deliverable_edits'))
    )
    with op.batch_alter_table('deliverable_edits', schema=None) as batch_op:
        batch_op.create_index('ix_deliverable_edits_key', ['deliverable_code', 'id'], unique=False)

    op.create_table('extension_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('deliverable_code', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('old_deadline', sa.Date(), nullable=False),
    sa.Column('new_deadline', sa.Date(), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('progress', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('department_code', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('key_name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('created_at', app.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_at', app.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decided_by', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('decision_note', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.ForeignKeyConstraint(['deliverable_code'], ['deliverables.code'], name=op.f('fk_extension_requests_deliverable_code_deliverables')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_extension_requests'))
    )
    with op.batch_alter_table('extension_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_extension_requests_deliverable_code'), ['deliverable_code'], unique=False)
        batch_op.create_index('uq_extension_requests_pending', ['deliverable_code'], unique=True, sqlite_where=sa.text("state = 'pending'"), postgresql_where=sa.text("state = 'pending'"))

    op.create_table('progress_reports',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('deliverable_code', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('summary', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('percent', sa.Integer(), nullable=True),
    sa.Column('next_steps', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('expected_done_on', sa.Date(), nullable=True),
    sa.Column('key_name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('key_id', sa.Integer(), nullable=True),
    sa.Column('department_code', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('request_id', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('client_request_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('recorded_at', app.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['deliverable_code'], ['deliverables.code'], name=op.f('fk_progress_reports_deliverable_code_deliverables')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_progress_reports'))
    )
    with op.batch_alter_table('progress_reports', schema=None) as batch_op:
        batch_op.create_index('ix_progress_reports_key', ['deliverable_code', 'id'], unique=False)

    op.create_table('extension_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('extension_id', sa.Integer(), nullable=False),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('key_name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('key_id', sa.Integer(), nullable=True),
    sa.Column('request_id', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('client_request_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('recorded_at', app.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['extension_id'], ['extension_requests.id'], name=op.f('fk_extension_events_extension_id_extension_requests')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_extension_events'))
    )
    with op.batch_alter_table('extension_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_extension_events_extension_id'), ['extension_id'], unique=False)

    op.create_table('progress_report_files',
    sa.Column('progress_report_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('file_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['file_id'], ['evidence_files.id'], name=op.f('fk_progress_report_files_file_id_evidence_files')),
    sa.ForeignKeyConstraint(['progress_report_id'], ['progress_reports.id'], name=op.f('fk_progress_report_files_progress_report_id_progress_reports')),
    sa.PrimaryKeyConstraint('progress_report_id', 'file_id', name=op.f('pk_progress_report_files'))
    )
    # Progress reports are expected from the day this feature is installed (SPEC "Supervision").
    installs = sa.table("feature_installs", sa.column("feature", sa.String()), sa.column("installed_on", sa.Date()))
    op.bulk_insert(installs, [{"feature": "supervision", "installed_on": clock.today()}])


def downgrade() -> None:
    op.drop_table('progress_report_files')
    with op.batch_alter_table('extension_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_extension_events_extension_id'))

    op.drop_table('extension_events')
    with op.batch_alter_table('progress_reports', schema=None) as batch_op:
        batch_op.drop_index('ix_progress_reports_key')

    op.drop_table('progress_reports')
    with op.batch_alter_table('extension_requests', schema=None) as batch_op:
        batch_op.drop_index('uq_extension_requests_pending', sqlite_where=sa.text("state = 'pending'"), postgresql_where=sa.text("state = 'pending'"))
        batch_op.drop_index(batch_op.f('ix_extension_requests_deliverable_code'))

    op.drop_table('extension_requests')
    with op.batch_alter_table('deliverable_edits', schema=None) as batch_op:
        batch_op.drop_index('ix_deliverable_edits_key')

    op.drop_table('deliverable_edits')
    op.drop_table('feature_installs')
    with op.batch_alter_table('evidence_files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_evidence_files_sha256'))

    op.drop_table('evidence_files')
