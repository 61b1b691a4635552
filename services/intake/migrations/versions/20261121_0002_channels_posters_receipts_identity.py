"""channels posters attachments receipts identity

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 23:13:27.440097
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Tracking numbers now come from one sequence per Shanghai day (intake.tracking_YYYYMMDD), created on
    # demand by the service, so NNNNNN restarts every day; the single global sequence goes.
    op.execute(sa.schema.DropSequence(sa.Sequence("tracking_seq", schema="intake")))
    op.create_table('audit_log',
    sa.Column('seq', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('actor', sa.Text(), nullable=False),
    sa.Column('actor_roles', sa.Text(), server_default='', nullable=False),
    sa.Column('action', sa.Text(), nullable=False),
    sa.Column('entity_type', sa.Text(), nullable=False),
    sa.Column('entity_id', sa.Text(), nullable=False),
    sa.Column('details', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('prev_hash', sa.Text(), nullable=False),
    sa.Column('hash', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_audit_log')),
    schema='intake'
    )
    op.create_table('posters',
    sa.Column('code', sa.Text(), nullable=False),
    sa.Column('unit_id', sa.Text(), nullable=False),
    sa.Column('place', sa.Text(), nullable=False),
    sa.Column('title', sa.Text(), nullable=True),
    sa.Column('active', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('created_by', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_posters')),
    schema='intake'
    )
    op.create_table('attachments',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('clue_id', sa.Uuid(), nullable=False),
    sa.Column('sha256', sa.Text(), nullable=False),
    sa.Column('media_type', sa.Text(), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['clue_id'], ['intake.clues.id'], name=op.f('fk_attachments_clue_id_clues'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attachments')),
    schema='intake'
    )
    op.create_index(op.f('ix_intake_attachments_clue_id'), 'attachments', ['clue_id'], unique=False, schema='intake')
    op.create_table('feedback_messages',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('clue_id', sa.Uuid(), nullable=False),
    sa.Column('stage', sa.Text(), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['clue_id'], ['intake.clues.id'], name=op.f('fk_feedback_messages_clue_id_clues'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feedback_messages')),
    schema='intake'
    )
    op.create_index('ix_feedback_messages_clue_issued', 'feedback_messages', ['clue_id', 'issued_at'], unique=False, schema='intake')
    op.create_table('receipts',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('lookup_id', sa.Text(), nullable=False),
    sa.Column('code_hash', sa.Text(), nullable=False),
    sa.Column('clue_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['clue_id'], ['intake.clues.id'], name=op.f('fk_receipts_clue_id_clues'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_receipts')),
    sa.UniqueConstraint('clue_id', name=op.f('uq_receipts_clue_id')),
    schema='intake'
    )
    op.create_index(op.f('ix_intake_receipts_lookup_id'), 'receipts', ['lookup_id'], unique=False, schema='intake')
    op.create_table('reporter_identities',
    sa.Column('clue_id', sa.Uuid(), nullable=False),
    sa.Column('kid', sa.Text(), nullable=False),
    sa.Column('nonce', sa.LargeBinary(), nullable=False),
    sa.Column('ciphertext', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['clue_id'], ['intake.clues.id'], name=op.f('fk_reporter_identities_clue_id_clues'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('clue_id', name=op.f('pk_reporter_identities')),
    schema='intake'
    )
    op.add_column('clues', sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True), schema='intake')
    op.add_column('clues', sa.Column('poster_code', sa.Text(), nullable=True), schema='intake')
    op.add_column('clues', sa.Column('category_hint', sa.Text(), nullable=True), schema='intake')
    op.add_column('clues', sa.Column('recorded_by', sa.Text(), nullable=True), schema='intake')
    op.add_column('clues', sa.Column('lat', sa.Float(), nullable=True), schema='intake')
    op.add_column('clues', sa.Column('long', sa.Float(), nullable=True), schema='intake')
    op.add_column('clues', sa.Column('address', sa.Text(), nullable=True), schema='intake')


def downgrade() -> None:
    op.drop_column('clues', 'address', schema='intake')
    op.drop_column('clues', 'long', schema='intake')
    op.drop_column('clues', 'lat', schema='intake')
    op.drop_column('clues', 'recorded_by', schema='intake')
    op.drop_column('clues', 'category_hint', schema='intake')
    op.drop_column('clues', 'poster_code', schema='intake')
    op.drop_column('clues', 'updated_at', schema='intake')
    op.drop_table('reporter_identities', schema='intake')
    op.drop_index(op.f('ix_intake_receipts_lookup_id'), table_name='receipts', schema='intake')
    op.drop_table('receipts', schema='intake')
    op.drop_index('ix_feedback_messages_clue_issued', table_name='feedback_messages', schema='intake')
    op.drop_table('feedback_messages', schema='intake')
    op.drop_index(op.f('ix_intake_attachments_clue_id'), table_name='attachments', schema='intake')
    op.drop_table('attachments', schema='intake')
    op.drop_table('posters', schema='intake')
    op.drop_table('audit_log', schema='intake')
    op.execute(sa.schema.CreateSequence(sa.Sequence("tracking_seq", schema="intake")))

