"""verification codes, office ballot imports, voters' opinions

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 21:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('voter_codes',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('campaign_id', sa.Uuid(), nullable=False),
    sa.Column('voter_hash', sa.LargeBinary(), nullable=False),
    sa.Column('code_hash', sa.LargeBinary(), nullable=False),
    sa.Column('client', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.SmallInteger(), server_default='0', nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_voter_codes')),
    schema='evaluation'
    )
    op.create_index('ix_voter_codes_voter', 'voter_codes', ['campaign_id', 'voter_hash', 'created_at'],
                    unique=False, schema='evaluation')
    op.create_index('ix_voter_codes_client', 'voter_codes', ['client', 'created_at'], unique=False,
                    schema='evaluation')
    op.create_table('ballot_imports',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('campaign_id', sa.Uuid(), nullable=False),
    sa.Column('imported_by', sa.Text(), nullable=False),
    sa.Column('file_name', sa.Text(), nullable=True),
    sa.Column('file_sha256', sa.Text(), nullable=False),
    sa.Column('ballots', sa.Integer(), nullable=False),
    sa.Column('accepted', sa.Integer(), nullable=False),
    sa.Column('imported_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['evaluation.campaigns.id'], name=op.f('fk_ballot_imports_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ballot_imports')),
    schema='evaluation'
    )
    op.create_index('ix_ballot_imports_campaign', 'ballot_imports', ['campaign_id'], unique=False, schema='evaluation')
    op.create_table('opinions',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('campaign_id', sa.Uuid(), nullable=False),
    sa.Column('unit_id', sa.Text(), nullable=False),
    sa.Column('channel', sa.Text(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_opinions')),
    schema='evaluation'
    )
    op.create_index('ix_opinions_campaign_unit', 'opinions', ['campaign_id', 'unit_id', 'id'], unique=False,
                    schema='evaluation')


def downgrade() -> None:
    op.drop_index('ix_opinions_campaign_unit', table_name='opinions', schema='evaluation')
    op.drop_table('opinions', schema='evaluation')
    op.drop_index('ix_ballot_imports_campaign', table_name='ballot_imports', schema='evaluation')
    op.drop_table('ballot_imports', schema='evaluation')
    op.drop_index('ix_voter_codes_client', table_name='voter_codes', schema='evaluation')
    op.drop_index('ix_voter_codes_voter', table_name='voter_codes', schema='evaluation')
    op.drop_table('voter_codes', schema='evaluation')
