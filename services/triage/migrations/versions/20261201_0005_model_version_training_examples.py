"""learned classifier: model version and conduct judgement per clue, officers' labelled examples

Revision ID: 0003_model
Revises: 0003_transfers
Create Date: 2026-12-01 20:10:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0003_model'
down_revision: str | None = '0003_transfers'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('clues', sa.Column('model_version', sa.Text(), nullable=True), schema='triage')
    op.add_column('clues', sa.Column('conduct', sa.Boolean(), nullable=True), schema='triage')
    op.add_column('clues', sa.Column('classified_at', sa.DateTime(timezone=True), nullable=True), schema='triage')
    op.create_table(
        'training_examples',
        sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column('clue_id', sa.Uuid(), nullable=True),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('conduct', sa.Boolean(), nullable=False),
        sa.Column('family', sa.Text(), nullable=True),
        sa.Column('type_code', sa.Text(), nullable=True),
        sa.Column('triggers', postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'::text[]"), nullable=False),
        sa.Column('enterprise', sa.Boolean(), server_default='false', nullable=False),
        sa.Column('tags', postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'::text[]"), nullable=False),
        sa.Column('channel', sa.Text(), nullable=True),
        sa.Column('source', sa.Text(), nullable=False),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('labelled_by', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_training_examples')),
        schema='triage',
    )
    op.create_index('ix_triage_training_examples_clue', 'training_examples', ['clue_id'], schema='triage')


def downgrade() -> None:
    op.drop_index('ix_triage_training_examples_clue', table_name='training_examples', schema='triage')
    op.drop_table('training_examples', schema='triage')
    op.drop_column('clues', 'classified_at', schema='triage')
    op.drop_column('clues', 'conduct', schema='triage')
    op.drop_column('clues', 'model_version', schema='triage')
