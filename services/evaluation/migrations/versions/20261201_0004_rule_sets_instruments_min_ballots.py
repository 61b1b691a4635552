"""rule sets, instruments, min ballots per campaign

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 20:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Campaigns created before rule sets applied every seed's rules; they keep a custom set naming them all,
# so their frozen results still read true. One ballot sufficed then (min_ballots 1).
_LEGACY = ('{"preset": "custom", "preset_label": "自定义(规则集之前创建)", "rules": ['
           '{"code": "unqualified_yellow_card", "label": "作风建设不合格单位, 对主要负责人实行黄牌警告"}, '
           '{"code": "consecutive_unqualified_recall", "label": "连续两次不合格, 对主要负责人实行召回管理"}, '
           '{"code": "veto_recall", "label": "被一票否决的单位, 对主要负责人实行召回管理"}, '
           '{"code": "last_ranked_principals", "label": "排名最后一位的单位, 对其党政主要负责人实施问责"}, '
           '{"code": "key_section_bottom_three", "label": "重点科室在重点科室中排名后三位, 对科室负责人实施问责"}, '
           '{"code": "exemplars", "label": "从优秀单位中选树敢担当、树标杆典型"}]}')


def upgrade() -> None:
    op.add_column('campaigns', sa.Column('instrument', sa.Text(), server_default='poll', nullable=False),
                  schema='evaluation')
    op.add_column('campaigns', sa.Column('rule_set', postgresql.JSONB(astext_type=sa.Text()),
                                         server_default=sa.text(f"'{_LEGACY}'::jsonb"), nullable=False),
                  schema='evaluation')
    op.alter_column('campaigns', 'rule_set', server_default=None, schema='evaluation')
    op.add_column('campaigns', sa.Column('min_ballots', sa.Integer(), server_default='1', nullable=False),
                  schema='evaluation')


def downgrade() -> None:
    op.drop_column('campaigns', 'min_ballots', schema='evaluation')
    op.drop_column('campaigns', 'rule_set', schema='evaluation')
    op.drop_column('campaigns', 'instrument', schema='evaluation')
