"""proposals keep evaluation's words for whom they hold to account and the grounds they stand on

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 21:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('proposals', sa.Column('held_to_account', sa.Text(), nullable=True), schema='accountability')
    op.add_column('proposals', sa.Column('grounds', postgresql.JSONB(astext_type=sa.Text()),
                                         server_default='[]', nullable=False), schema='accountability')


def downgrade() -> None:
    op.drop_column('proposals', 'grounds', schema='accountability')
    op.drop_column('proposals', 'held_to_account', schema='accountability')
