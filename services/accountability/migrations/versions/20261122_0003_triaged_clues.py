"""triaged clues: a repeat that arrives before its original waits for the original's case

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 02:20:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('triaged_clues',
    sa.Column('clue_id', sa.Uuid(), nullable=False),
    sa.Column('merged_into', sa.Uuid(), nullable=True),
    sa.Column('waiting', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('tracking_number', sa.Text(), nullable=True),
    sa.Column('problem_type', sa.Text(), nullable=True),
    sa.Column('channel', sa.Text(), nullable=True),
    sa.Column('must_investigate', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('handled_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('clue_id', name=op.f('pk_triaged_clues')),
    schema='accountability'
    )
    op.create_index(op.f('ix_accountability_triaged_clues_merged_into'), 'triaged_clues', ['merged_into'],
                    unique=False, schema='accountability')


def downgrade() -> None:
    op.drop_index(op.f('ix_accountability_triaged_clues_merged_into'), table_name='triaged_clues',
                  schema='accountability')
    op.drop_table('triaged_clues', schema='accountability')
