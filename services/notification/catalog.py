"""The notification service's enumerations, as data in one place (exported by ``GET …/enumerations``)."""

from __future__ import annotations

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
}

DEADLINE_KINDS: dict[str, str] = {"transfer": "转办线索反馈", "rectification": "整改任务"}

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
    }
