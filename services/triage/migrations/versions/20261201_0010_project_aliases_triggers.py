"""Key projects: aliases for matching clues, and the project 五必查 triggers a linked clue raised (R-SU-5)

Revision ID: 0010_project_triggers
Revises: 0009
Create Date: 2026-12-01 23:10:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0010_project_triggers'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = 'triage'


def upgrade() -> None:
    op.add_column('key_projects', sa.Column('aliases', postgresql.ARRAY(sa.Text()), nullable=False,
                                            server_default=sa.text("'{}'::text[]")), schema=S)
    op.add_column('key_projects', sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False,
                                            server_default=sa.func.now()), schema=S)
    # what the clue said that named the project, and the project triggers it raised when it was linked
    op.add_column('project_links', sa.Column('matched', sa.Text()), schema=S)
    op.add_column('project_links', sa.Column('triggers', postgresql.ARRAY(sa.Text()), nullable=False,
                                             server_default=sa.text("'{}'::text[]")), schema=S)


def downgrade() -> None:
    op.drop_column('project_links', 'triggers', schema=S)
    op.drop_column('project_links', 'matched', schema=S)
    op.drop_column('key_projects', 'updated_at', schema=S)
    op.drop_column('key_projects', 'aliases', schema=S)
