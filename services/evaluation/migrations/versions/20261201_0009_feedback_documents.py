"""Higher-level feedback (巡视反馈意见, 专项督察通报) handed down as tasks (交办): the document and its items,
each item a drive task (R-SU-2)

Revision ID: 0009_feedback
Revises: 0008_reviews
Create Date: 2026-12-01 23:55:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009_feedback'
down_revision: str | None = '0008_reviews'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = 'evaluation'


def upgrade() -> None:
    op.create_table(
        'feedback_documents',
        sa.Column('id', sa.Uuid(), primary_key=True),
        sa.Column('kind', sa.Text(), nullable=False),
        sa.Column('title', sa.Text(), nullable=False),
        sa.Column('issued_by', sa.Text(), nullable=False),
        sa.Column('doc_number', sa.Text()),
        sa.Column('received_on', sa.Date(), nullable=False),
        sa.Column('drive_id', sa.Uuid(), sa.ForeignKey(f'{S}.drives.id'), nullable=False),
        sa.Column('created_by', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=S,
    )
    op.create_table(
        'feedback_items',
        sa.Column('id', sa.Uuid(), primary_key=True),
        sa.Column('document_id', sa.Uuid(), sa.ForeignKey(f'{S}.feedback_documents.id'), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('requirement', sa.Text()),
        sa.Column('task_id', sa.Uuid(), sa.ForeignKey(f'{S}.drive_tasks.id'), nullable=False),
        sa.UniqueConstraint('document_id', 'seq', name='uq_feedback_items_document_seq'),
        schema=S,
    )


def downgrade() -> None:
    op.drop_table('feedback_items', schema=S)
    op.drop_table('feedback_documents', schema=S)
