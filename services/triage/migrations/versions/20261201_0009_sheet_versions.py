"""daily sheet versions (a re-run issues a new version) and daily-run jobs with progress

Revision ID: 0009
Revises: 0006
Create Date: 2026-12-01 21:05:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('daily_runs', sa.Column('version', sa.Integer(), server_default='1', nullable=False),
                  schema='triage')
    # every run before this revision closed its day (the window ended at the cut-off or at the run)
    op.add_column('daily_runs', sa.Column('closes_day', sa.Boolean(), server_default='true', nullable=False),
                  schema='triage')
    op.add_column('daily_runs', sa.Column('job_id', sa.Uuid(), nullable=True), schema='triage')
    op.drop_constraint('pk_daily_runs', 'daily_runs', schema='triage', type_='primary')
    op.create_primary_key('pk_daily_runs', 'daily_runs', ['run_date', 'version'], schema='triage')
    op.create_table(
        'daily_run_jobs',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('run_date', sa.Date(), nullable=False),
        sa.Column('kind', sa.Text(), nullable=False),
        sa.Column('state', sa.Text(), server_default='queued', nullable=False),
        sa.Column('triggered_by', sa.Text(), nullable=False),
        sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('total', sa.Integer(), nullable=True),
        sa.Column('processed', sa.Integer(), server_default='0', nullable=False),
        sa.Column('version', sa.Integer(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_daily_run_jobs')),
        schema='triage',
    )
    op.create_index('ix_triage_daily_run_jobs_run_date', 'daily_run_jobs', ['run_date'], schema='triage')


def downgrade() -> None:
    op.drop_index('ix_triage_daily_run_jobs_run_date', table_name='daily_run_jobs', schema='triage')
    op.drop_table('daily_run_jobs', schema='triage')
    op.execute("DELETE FROM triage.daily_runs WHERE version > 1")
    op.drop_constraint('pk_daily_runs', 'daily_runs', schema='triage', type_='primary')
    op.create_primary_key('pk_daily_runs', 'daily_runs', ['run_date'], schema='triage')
    op.drop_column('daily_runs', 'job_id', schema='triage')
    op.drop_column('daily_runs', 'closes_day', schema='triage')
    op.drop_column('daily_runs', 'version', schema='triage')
