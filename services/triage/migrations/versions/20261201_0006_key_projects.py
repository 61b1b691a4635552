"""Key projects: register, phone checks, links to clues and cases (R-SU-5)

Revision ID: 0006
Revises: 0003_model
Create Date: 2026-12-01 21:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0006'
down_revision: str | None = '0003_model'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = 'triage'


def upgrade() -> None:
    op.create_table(
        'key_projects',
        sa.Column('id', sa.Uuid(), primary_key=True),
        sa.Column('code', sa.Text(), nullable=False, unique=True),
        sa.Column('name', sa.Text(), nullable=False),
        sa.Column('level', sa.Text(), nullable=False),
        sa.Column('owner', sa.Text(), nullable=False),
        sa.Column('owner_contact', sa.Text()),
        sa.Column('leader', sa.Text(), nullable=False),
        sa.Column('team', postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column('approval_units', postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column('milestones', postgresql.JSONB(), server_default=sa.text("'[]'::jsonb"), nullable=False),
        sa.Column('registered_by', sa.Text(), nullable=False),
        sa.Column('registered_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        schema=S,
    )
    op.create_table(
        'project_checks',
        sa.Column('id', sa.Uuid(), primary_key=True),
        sa.Column('project_id', sa.Uuid(), sa.ForeignKey(f'{S}.key_projects.id'), nullable=False),
        sa.Column('checked_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('called_by', sa.Text(), nullable=False),
        sa.Column('spoke_with', sa.Text(), nullable=False),
        sa.Column('answers', postgresql.JSONB(), nullable=False),
        sa.Column('problems', postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'::text[]"), nullable=False),
        sa.Column('unit_id', sa.Text()),
        sa.Column('account', sa.Text(), server_default='', nullable=False),
        sa.Column('clue_id', sa.Uuid()),
        schema=S,
    )
    op.create_index('ix_project_checks_project_id', 'project_checks', ['project_id'], schema=S)
    op.create_table(
        'project_links',
        sa.Column('project_id', sa.Uuid(), sa.ForeignKey(f'{S}.key_projects.id'), primary_key=True),
        sa.Column('kind', sa.Text(), primary_key=True),
        sa.Column('target_id', sa.Uuid(), primary_key=True),
        sa.Column('label', sa.Text()),
        sa.Column('source', sa.Text(), nullable=False),
        sa.Column('linked_by', sa.Text(), nullable=False),
        sa.Column('linked_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        schema=S,
    )
    op.create_index('ix_project_links_target', 'project_links', ['kind', 'target_id'], schema=S)


def downgrade() -> None:
    for name in ('project_links', 'project_checks', 'key_projects'):
        op.drop_table(name, schema=S)
