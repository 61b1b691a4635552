"""audit: the audit chain keyed (key_id), append-only in the database, with checkpoints

The chain's rows are HMAC-keyed over every column (services/common/audit.py). UPDATE, DELETE and
TRUNCATE on audit_log and audit_checkpoints are revoked and refused by triggers, for the owner too.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 21:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out here rather than imported, so this revision keeps doing what it did if the code moves on.
APPEND_ONLY = [
    'CREATE OR REPLACE FUNCTION "triage".audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$\n        BEGIN\n          RAISE EXCEPTION \'triage.audit_log is append-only: % refused\', TG_OP\n            USING ERRCODE = \'insufficient_privilege\';\n        END $$',
    'CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON "triage".audit_log FOR EACH ROW EXECUTE FUNCTION "triage".audit_log_append_only()',
    'CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON "triage".audit_log FOR EACH STATEMENT EXECUTE FUNCTION "triage".audit_log_append_only()',
    'REVOKE UPDATE, DELETE, TRUNCATE ON "triage".audit_log FROM PUBLIC, CURRENT_USER',
    'CREATE OR REPLACE FUNCTION "triage".audit_checkpoints_append_only() RETURNS trigger LANGUAGE plpgsql AS $$\n        BEGIN\n          RAISE EXCEPTION \'triage.audit_checkpoints is append-only: % refused\', TG_OP\n            USING ERRCODE = \'insufficient_privilege\';\n        END $$',
    'CREATE TRIGGER audit_checkpoints_no_update_delete BEFORE UPDATE OR DELETE ON "triage".audit_checkpoints FOR EACH ROW EXECUTE FUNCTION "triage".audit_checkpoints_append_only()',
    'CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON "triage".audit_checkpoints FOR EACH STATEMENT EXECUTE FUNCTION "triage".audit_checkpoints_append_only()',
    'REVOKE UPDATE, DELETE, TRUNCATE ON "triage".audit_checkpoints FROM PUBLIC, CURRENT_USER',
]
UNGUARD = [
    'GRANT UPDATE, DELETE, TRUNCATE ON "triage".audit_checkpoints TO CURRENT_USER',
    'DROP TRIGGER IF EXISTS audit_checkpoints_no_truncate ON "triage".audit_checkpoints',
    'DROP TRIGGER IF EXISTS audit_checkpoints_no_update_delete ON "triage".audit_checkpoints',
    'DROP FUNCTION IF EXISTS "triage".audit_checkpoints_append_only()',
    'GRANT UPDATE, DELETE, TRUNCATE ON "triage".audit_log TO CURRENT_USER',
    'DROP TRIGGER IF EXISTS audit_log_no_truncate ON "triage".audit_log',
    'DROP TRIGGER IF EXISTS audit_log_no_update_delete ON "triage".audit_log',
    'DROP FUNCTION IF EXISTS "triage".audit_log_append_only()',
]


def upgrade() -> None:
    op.add_column('audit_log', sa.Column('key_id', sa.Text(), nullable=True), schema='triage')
    op.create_table('audit_checkpoints',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('head_seq', sa.BigInteger(), nullable=False),
    sa.Column('entries', sa.BigInteger(), nullable=False),
    sa.Column('head_hash', sa.Text(), nullable=False),
    sa.Column('key_id', sa.Text(), nullable=False),
    sa.Column('mac', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_checkpoints')),
    schema='triage'
    )
    for statement in APPEND_ONLY:
        op.execute(statement)


def downgrade() -> None:
    for statement in UNGUARD:
        op.execute(statement)
    op.drop_table('audit_checkpoints', schema='triage')
    op.drop_column('audit_log', 'key_id', schema='triage')
