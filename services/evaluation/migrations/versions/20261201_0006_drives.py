"""Campaign drives: phases, tasks with lead/responsible units and deadlines, progress reports (R-SU-2)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 21:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = 'evaluation'


def upgrade() -> None:
    op.create_table(
        'drives',
        sa.Column('id', sa.Uuid(), primary_key=True),
        sa.Column('title', sa.Text(), nullable=False),
        sa.Column('phases', postgresql.JSONB(), nullable=False),
        sa.Column('created_by', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        schema=S,
    )
    op.create_table(
        'drive_tasks',
        sa.Column('id', sa.Uuid(), primary_key=True),
        sa.Column('drive_id', sa.Uuid(), sa.ForeignKey(f'{S}.drives.id'), nullable=False),
        sa.Column('phase', sa.Text()),
        sa.Column('title', sa.Text(), nullable=False),
        sa.Column('lead_unit', sa.Text(), nullable=False),
        sa.Column('responsible_units', postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column('deadline', sa.Date(), nullable=False),
        sa.Column('handed_down_from', sa.Text()),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        schema=S,
    )
    op.create_index('ix_drive_tasks_drive_id', 'drive_tasks', ['drive_id'], schema=S)
    op.create_table(
        'drive_task_reports',
        sa.Column('id', sa.Uuid(), primary_key=True),
        sa.Column('task_id', sa.Uuid(), sa.ForeignKey(f'{S}.drive_tasks.id'), nullable=False),
        sa.Column('unit_id', sa.Text(), nullable=False),
        sa.Column('progress', sa.Text(), nullable=False),
        sa.Column('percent', sa.Integer(), nullable=False),
        sa.Column('done', sa.Boolean(), nullable=False),
        sa.Column('reported_by', sa.Text(), nullable=False),
        sa.Column('reported_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        schema=S,
    )
    op.create_index('ix_drive_task_reports_task_id', 'drive_task_reports', ['task_id'], schema=S)


def downgrade() -> None:
    for name in ('drive_task_reports', 'drive_tasks', 'drives'):
        op.drop_table(name, schema=S)
