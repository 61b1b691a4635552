"""Inspections: monthly themes, plans, visits, on-site evidence, findings (R-SU-1)

Revision ID: 0008
Revises: 0004_qr_submissions
Create Date: 2026-12-01 21:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0008'
down_revision: str | None = '0004_qr_submissions'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = 'intake'


def upgrade() -> None:
    op.create_table(
        'inspection_themes',
        sa.Column('month', sa.Text(), primary_key=True),
        sa.Column('theme', sa.Text(), nullable=False),
        sa.Column('set_by', sa.Text(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        schema=S,
    )
    op.create_table(
        'inspection_plans',
        sa.Column('id', sa.Uuid(), primary_key=True),
        sa.Column('kind', sa.Text(), nullable=False),
        sa.Column('theme', sa.Text(), nullable=False),
        sa.Column('month', sa.Text(), nullable=False),
        sa.Column('target_units', postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column('team', postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column('leader', sa.Text(), nullable=False),
        sa.Column('starts_on', sa.Date(), nullable=False),
        sa.Column('ends_on', sa.Date(), nullable=False),
        sa.Column('report_due', sa.Date(), nullable=False),
        sa.Column('holiday', sa.Text()),
        sa.Column('reported_on', sa.Date()),
        sa.Column('report_summary', sa.Text()),
        sa.Column('created_by', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        schema=S,
    )
    op.create_table(
        'inspection_visits',
        sa.Column('id', sa.Uuid(), primary_key=True),
        sa.Column('plan_id', sa.Uuid(), sa.ForeignKey(f'{S}.inspection_plans.id'), nullable=False),
        sa.Column('unit_id', sa.Text(), nullable=False),
        sa.Column('place', sa.Text(), nullable=False),
        sa.Column('visited_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('notes', sa.Text(), server_default='', nullable=False),
        sa.Column('evidence_count', sa.Integer(), server_default='0', nullable=False),
        sa.Column('recorded_by', sa.Text(), nullable=False),
        schema=S,
    )
    op.create_index('ix_inspection_visits_plan_id', 'inspection_visits', ['plan_id'], schema=S)
    op.create_table(
        'inspection_evidence',
        sa.Column('id', sa.Uuid(), primary_key=True),
        sa.Column('visit_id', sa.Uuid(), sa.ForeignKey(f'{S}.inspection_visits.id'), nullable=False),
        sa.Column('sha256', sa.Text(), nullable=False),
        sa.Column('media_type', sa.Text(), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        schema=S,
    )
    op.create_index('ix_inspection_evidence_visit_id', 'inspection_evidence', ['visit_id'], schema=S)
    op.create_table(
        'inspection_findings',
        sa.Column('id', sa.Uuid(), primary_key=True),
        sa.Column('plan_id', sa.Uuid(), sa.ForeignKey(f'{S}.inspection_plans.id'), nullable=False),
        sa.Column('visit_id', sa.Uuid(), sa.ForeignKey(f'{S}.inspection_visits.id')),
        sa.Column('clue_id', sa.Uuid(), nullable=False, unique=True),
        sa.Column('unit_id', sa.Text()),
        sa.Column('source', sa.Text(), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('recommendation', sa.Text(), nullable=False),
        sa.Column('tags', postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'::text[]"), nullable=False),
        sa.Column('recorded_by', sa.Text(), nullable=False),
        sa.Column('recorded_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        schema=S,
    )
    op.create_index('ix_inspection_findings_plan_id', 'inspection_findings', ['plan_id'], schema=S)


def downgrade() -> None:
    for name in ('inspection_findings', 'inspection_evidence', 'inspection_visits', 'inspection_plans',
                 'inspection_themes'):
        op.drop_table(name, schema=S)
