"""reveal approvals: a second investigator approves each reveal of a named reporter

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 20:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('reveal_approvals',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('clue_id', sa.Uuid(), nullable=False),
    sa.Column('investigator', sa.Text(), nullable=False),
    sa.Column('case_number', sa.Text(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('approved_by', sa.Text(), nullable=False),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['clue_id'], ['intake.clues.id'], name=op.f('fk_reveal_approvals_clue_id_clues'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reveal_approvals')),
    schema='intake'
    )
    op.create_index(op.f('ix_intake_reveal_approvals_clue_id'), 'reveal_approvals', ['clue_id'], unique=False,
                    schema='intake')


def downgrade() -> None:
    op.drop_index(op.f('ix_intake_reveal_approvals_clue_id'), table_name='reveal_approvals', schema='intake')
    op.drop_table('reveal_approvals', schema='intake')
