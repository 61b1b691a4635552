"""ratings: comment, reminder, one request per clue without a case; rating links for reminders;
the round of a transfer's deadline

Revision ID: 0003_ratings
Revises: 0003_bulletin_review
Create Date: 2026-12-01 20:20:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003_ratings'
down_revision: str | None = '0003_bulletin_review'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('deadlines', sa.Column('round', sa.Integer(), nullable=True), schema='notification')
    op.add_column('ratings', sa.Column('comment', sa.Text(), nullable=True), schema='notification')
    op.add_column('ratings', sa.Column('reminded_on', sa.Date(), nullable=True), schema='notification')
    op.create_index('ux_ratings_clue_without_case', 'ratings', ['clue_id'], unique=True, schema='notification',
                    postgresql_where=sa.text('case_id IS NULL'))
    op.create_table(
        'rating_links',
        sa.Column('token_hash', sa.Text(), nullable=False),
        sa.Column('rating_token_hash', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_rating_links')),
        schema='notification',
    )
    op.create_index(op.f('ix_rating_links_rating_token_hash'), 'rating_links', ['rating_token_hash'],
                    unique=False, schema='notification')


def downgrade() -> None:
    op.drop_index(op.f('ix_rating_links_rating_token_hash'), table_name='rating_links', schema='notification')
    op.drop_table('rating_links', schema='notification')
    op.drop_index('ux_ratings_clue_without_case', table_name='ratings', schema='notification',
                  postgresql_where=sa.text('case_id IS NULL'))
    op.drop_column('ratings', 'reminded_on', schema='notification')
    op.drop_column('ratings', 'comment', schema='notification')
    op.drop_column('deadlines', 'round', schema='notification')
