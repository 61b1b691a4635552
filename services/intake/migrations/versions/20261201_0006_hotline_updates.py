"""hotline status updates (callbacks), Open311 media_url, triage family and transfer, unit names

Revision ID: 0004_hotline_updates
Revises: 0005
Create Date: 2026-12-01 20:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0004_hotline_updates'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('clues', sa.Column('media_url', sa.Text(), nullable=True), schema='intake')
    op.add_column('clues', sa.Column('family', sa.Text(), nullable=True), schema='intake')
    op.add_column('clues', sa.Column('transferred', sa.Boolean(), nullable=False, server_default='false'),
                  schema='intake')
    op.create_table(
        'hotline_updates',
        sa.Column('id', sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column('idempotency_key', sa.Text(), nullable=False, unique=True),
        sa.Column('line', sa.Text(), nullable=False),
        sa.Column('clue_id', sa.Uuid(), sa.ForeignKey('intake.clues.id', ondelete='CASCADE'), nullable=False),
        sa.Column('stage', sa.Text(), nullable=False),
        sa.Column('payload', postgresql.JSONB(), nullable=False),
        sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('status', sa.Text(), nullable=False, server_default='pending'),
        sa.Column('attempts', sa.Integer(), nullable=False, server_default='0'),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
        schema='intake',
    )
    op.create_index('ix_hotline_updates_due', 'hotline_updates', ['status', 'next_attempt_at'], schema='intake')
    op.create_index('ix_hotline_updates_clue', 'hotline_updates', ['clue_id', 'id'], schema='intake')
    op.create_table(
        'unit_names',
        sa.Column('unit_id', sa.Text(), primary_key=True),
        sa.Column('name', sa.Text(), nullable=False),
        schema='intake',
    )


def downgrade() -> None:
    op.drop_table('unit_names', schema='intake')
    op.drop_index('ix_hotline_updates_clue', table_name='hotline_updates', schema='intake')
    op.drop_index('ix_hotline_updates_due', table_name='hotline_updates', schema='intake')
    op.drop_table('hotline_updates', schema='intake')
    op.drop_column('clues', 'transferred', schema='intake')
    op.drop_column('clues', 'family', schema='intake')
    op.drop_column('clues', 'media_url', schema='intake')
