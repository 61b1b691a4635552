"""bulletins reviewed before publication (draft → published), unit levels for sector-scope notices

Revision ID: 0003_bulletin_review
Revises: 0003
Create Date: 2026-12-01 20:10:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003_bulletin_review'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('units', sa.Column('level', sa.Text(), nullable=True), schema='notification')
    op.add_column('bulletins', sa.Column('status', sa.Text(), nullable=False, server_default='published'),
                  schema='notification')
    op.add_column('bulletins', sa.Column('composed_at', sa.DateTime(timezone=True), nullable=True),
                  schema='notification')
    op.add_column('bulletins', sa.Column('published_by', sa.Text(), nullable=True), schema='notification')


def downgrade() -> None:
    op.drop_column('bulletins', 'published_by', schema='notification')
    op.drop_column('bulletins', 'composed_at', schema='notification')
    op.drop_column('bulletins', 'status', schema='notification')
    op.drop_column('units', 'level', schema='notification')
