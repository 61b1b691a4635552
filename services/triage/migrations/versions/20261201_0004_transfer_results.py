"""transfers and transfer results (转办 → 办理结果 → 审核)

Revision ID: 0003_transfers
Revises: 0003
Create Date: 2026-12-01 20:10:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0003_transfers'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'transfers',
        sa.Column('clue_id', sa.Uuid(), nullable=False),
        sa.Column('tracking_number', sa.Text(), nullable=False),
        sa.Column('unit_id', sa.Text(), nullable=False),
        sa.Column('state', sa.Text(), nullable=False),
        sa.Column('round', sa.Integer(), server_default=sa.text('1'), nullable=False),
        sa.Column('deadline', sa.Date(), nullable=True),
        sa.Column('assigned_on', sa.Date(), nullable=False),
        sa.Column('returns', sa.Integer(), server_default=sa.text('0'), nullable=False),
        sa.Column('concluded_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.PrimaryKeyConstraint('clue_id', name=op.f('pk_transfers')),
        schema='triage',
    )
    op.create_index('ix_triage_transfers_unit_state', 'transfers', ['unit_id', 'state'], unique=False,
                    schema='triage')
    op.create_table(
        'transfer_results',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('clue_id', sa.Uuid(), nullable=False),
        sa.Column('unit_id', sa.Text(), nullable=False),
        sa.Column('round', sa.Integer(), nullable=False),
        sa.Column('actions', sa.Text(), nullable=False),
        sa.Column('findings', sa.Text(), nullable=False),
        sa.Column('finding', sa.Text(), nullable=True),
        sa.Column('responsible', sa.Text(), nullable=False),
        sa.Column('evidence', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"),
                  nullable=False),
        sa.Column('filed_by', sa.Text(), nullable=False),
        sa.Column('filed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('deadline', sa.Date(), nullable=True),
        sa.Column('on_time', sa.Boolean(), nullable=False),
        sa.Column('review', sa.Text(), nullable=True),
        sa.Column('review_reason', sa.Text(), nullable=True),
        sa.Column('outcome_summary', sa.Text(), nullable=True),
        sa.Column('reviewed_by', sa.Text(), nullable=True),
        sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_transfer_results')),
        schema='triage',
    )
    op.create_index('ix_triage_transfer_results_clue', 'transfer_results', ['clue_id', 'round'], unique=False,
                    schema='triage')


def downgrade() -> None:
    op.drop_index('ix_triage_transfer_results_clue', table_name='transfer_results', schema='triage')
    op.drop_table('transfer_results', schema='triage')
    op.drop_index('ix_triage_transfers_unit_state', table_name='transfers', schema='triage')
    op.drop_table('transfers', schema='triage')
