"""QR page one-time form tokens (Post/Redirect/Get)

Revision ID: 0004_qr_submissions
Revises: 0004_hotline_updates
Create Date: 2026-12-01 20:50:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004_qr_submissions'
down_revision: str | None = '0004_hotline_updates'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'qr_submissions',
        sa.Column('token_hash', sa.Text(), nullable=False),
        sa.Column('poster_code', sa.Text(), nullable=False),
        sa.Column('clue_id', sa.Uuid(), nullable=True),
        sa.Column('tracking_number', sa.Text(), nullable=True),
        sa.Column('receipt_kid', sa.Text(), nullable=True),
        sa.Column('receipt_nonce', sa.Text(), nullable=True),
        sa.Column('receipt_ciphertext', sa.Text(), nullable=True),
        sa.Column('show_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_qr_submissions')),
        schema='intake',
    )


def downgrade() -> None:
    op.drop_table('qr_submissions', schema='intake')
