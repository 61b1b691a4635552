"""The notification service's enumerations, as data in one place (exported by ``GET …/enumerations``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

# Stages a reporter hears about (the ``stage`` of ReporterFeedbackIssued).
REPORTER_STAGES: dict[str, str] = {
    "received": "已收到",
    "triaged": "已分办",
    "transfer-concluded": "承办单位办结（经审核）",
    "concluded": "已办结",
    "closed": "已结案",
    "rating-request": "满意度回访",
    "rating-reminder": "满意度回访提醒",
}

# Channels behind the one Channel interface; "receipt" is the anonymous receipt page (via an event).
CHANNELS: dict[str, str] = {
    "email": "电子邮件",
    "sms": "短信",
    "wechat": "微信模板消息",
    "inbox": "站内信",
    "receipt": "回执页面",
}

# Delivery lifecycle. ``sending`` is a lease: a worker that dies mid-send leaves it to expire and be retaken.
DELIVERY_STATUSES: dict[str, str] = {
    "queued": "待发送",
    "sending": "发送中",
    "retrying": "待重试",
    "sent": "已发送",
    "failed": "发送失败",
}
DELIVERY_TRANSITIONS: dict[str, frozenset[str]] = {
    "queued": frozenset({"sending"}),
    "retrying": frozenset({"sending"}),
    "sending": frozenset({"sent", "retrying", "failed", "sending"}),
    "sent": frozenset(),
    "failed": frozenset(),
}

BULLETIN_KINDS: dict[str, str] = {
    "typical": "典型案例通报",
    "clarification": "澄清正名",
    "ranking": "评议结果公布",
    "monthly": "月度通报",
    "inspection_monthly": "明察暗访通报",
    "review_round": "督查检查通报",
}

BULLETIN_STATUSES: dict[str, str] = {"draft": "待审核", "published": "已发布"}

# 通报范围 (Chengdu's rule: 在本地區本部門發生的，要在本地區本部門通報曝光): only citywide is public.
PUBLICATION_SCOPES: dict[str, str] = {
    "unit": "单位内通报",
    "sector": "系统内通报",
    "citywide": "全市公开通报",
}

CONSEQUENCE_KINDS: dict[str, str] = {
    "yellow_card": "黄牌警告",
    "recall_management": "召回管理",
    "last_ranked_unit": "末位单位",
    "bottom_three_section": "后三名科室",
    "exemplar": "评议先进",
}

DEADLINE_KINDS: dict[str, str] = {"transfer": "转办线索反馈", "rectification": "整改任务", "drive_task": "专项行动任务",
                                  "inspection_result": "明察暗访检查结果报送"}

TRIAGE_DECISIONS: dict[str, str] = {
    "accept": "已受理并进入核查程序",
    "transfer": "已转交有关单位办理",
    "merge": "与此前反映的同一问题合并办理",
    "set_aside": "经研判暂不予立项",
}

FINDINGS: dict[str, str] = {
    "substantiated": "反映问题属实",
    "partly_substantiated": "反映问题部分属实",
    "unfounded": "反映问题不属实",
    "closed_without_filing": "予以了结",
}

GRADES: dict[str, str] = {
    "excellent": "优秀",
    "qualified": "合格",
    "basically_qualified": "基本合格",
    "unqualified": "不合格",
}


# The problem taxonomy is triage's data; notification reads only its labels, so that a message says
# "中梗阻/踢皮球" where the event says ``buck_passing``.
_TAXONOMY = Path(__file__).resolve().parents[1] / "triage" / "data" / "taxonomy.yaml"


@lru_cache
def problem_type_labels() -> dict[str, str]:
    raw = yaml.safe_load(_TAXONOMY.read_text(encoding="utf-8"))
    labels = {str(f["code"]): str(f["label"]) for f in raw.get("families", [])}
    labels |= {str(t["code"]): str(t["label"]) for t in raw.get("types", [])}
    for group in raw.get("tag_groups", []):
        labels |= {str(t["code"]): str(t["label"]) for t in group.get("tags", [])}
    return labels


def problem_type_label(code: str | None) -> str:
    """The Chinese name of a problem family, type or tag; a key triage never labelled reads 其他问题."""
    if not code:
        return ""
    if code in ("unclassified", "unknown", "other"):
        return "其他问题"
    return problem_type_labels().get(code, code if not code.isascii() else "其他问题")


def can_transition(current: str, new: str) -> bool:
    return new in DELIVERY_TRANSITIONS.get(current, frozenset())


def enumerations() -> dict[str, dict[str, str]]:
    return {
        "reporter_stages": REPORTER_STAGES,
        "channels": CHANNELS,
        "delivery_statuses": DELIVERY_STATUSES,
        "bulletin_kinds": BULLETIN_KINDS,
        "deadline_kinds": DEADLINE_KINDS,
        "triage_decisions": TRIAGE_DECISIONS,
        "findings": FINDINGS,
        "grades": GRADES,
        "publication_scopes": PUBLICATION_SCOPES,
        "bulletin_statuses": BULLETIN_STATUSES,
        "consequence_kinds": CONSEQUENCE_KINDS,
    }
