"""Scheduled reviews of the self-inspection lists as objects: the September 大检查 and the December 回头看
(R-SU-4), each with the items it covers and what it found on each

Revision ID: 0008_reviews
Revises: 0007
Create Date: 2026-12-01 23:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008_reviews'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = 'evaluation'


def upgrade() -> None:
    op.create_table(
        'self_check_reviews',
        sa.Column('id', sa.Uuid(), primary_key=True),
        sa.Column('kind', sa.Text(), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('title', sa.Text(), nullable=False),
        sa.Column('due', sa.Date(), nullable=False),
        sa.Column('state', sa.Text(), nullable=False, server_default='open'),
        sa.Column('opened_by', sa.Text(), nullable=False),
        sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column('closed_by', sa.Text()),
        sa.Column('closed_at', sa.DateTime(timezone=True)),
        sa.UniqueConstraint('kind', 'year', name='uq_self_check_reviews_kind_year'),
        schema=S,
    )
    op.create_table(
        'self_check_review_entries',
        sa.Column('review_id', sa.Uuid(), sa.ForeignKey(f'{S}.self_check_reviews.id'), primary_key=True),
        sa.Column('item_id', sa.Uuid(), sa.ForeignKey(f'{S}.self_check_items.id'), primary_key=True),
        sa.Column('unit_id', sa.Text(), nullable=False),
        sa.Column('state_at_open', sa.Text(), nullable=False),
        sa.Column('decision', sa.Text()),
        sa.Column('verdict', sa.Text()),
        sa.Column('refer_to', sa.Text()),
        sa.Column('note', sa.Text()),
        sa.Column('reviewed_by', sa.Text()),
        sa.Column('reviewed_at', sa.DateTime(timezone=True)),
        schema=S,
    )
    op.create_index('ix_self_check_review_entries_unit', 'self_check_review_entries', ['review_id', 'unit_id'],
                    schema=S)


def downgrade() -> None:
    op.drop_table('self_check_review_entries', schema=S)
    op.drop_table('self_check_reviews', schema=S)
