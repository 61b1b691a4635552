"""Self-inspection lists (自查清单) with rectification plan, deadline, person responsible, sign-off (R-SU-3/4)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 21:05:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = 'evaluation'


def upgrade() -> None:
    op.create_table(
        'self_check_items',
        sa.Column('id', sa.Uuid(), primary_key=True),
        sa.Column('unit_id', sa.Text(), nullable=False),
        sa.Column('drive_id', sa.Uuid(), sa.ForeignKey(f'{S}.drives.id')),
        sa.Column('level', sa.Text(), nullable=False),
        sa.Column('mirror', sa.Text(), nullable=False),
        sa.Column('problem', sa.Text(), nullable=False),
        sa.Column('plan', sa.Text(), nullable=False),
        sa.Column('deadline', sa.Date(), nullable=False),
        sa.Column('responsible', sa.Text(), nullable=False),
        sa.Column('state', sa.Text(), server_default='open', nullable=False),
        sa.Column('evidence', sa.Text()),
        sa.Column('review_note', sa.Text()),
        sa.Column('signed_off_by', sa.Text()),
        sa.Column('signed_off_at', sa.DateTime(timezone=True)),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        schema=S,
    )
    op.create_index('ix_self_check_items_unit_id', 'self_check_items', ['unit_id'], schema=S)


def downgrade() -> None:
    op.drop_table('self_check_items', schema=S)
