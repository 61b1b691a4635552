"""clue deadline

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 01:33:31.207815
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('clues', sa.Column('deadline', sa.Date(), nullable=True), schema='intake')


def downgrade() -> None:
    op.drop_column('clues', 'deadline', schema='intake')
