"""Intake's enumerations as data, in one place, exported by ``GET /api/v1/intake/catalog``."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

DATA = Path(__file__).parent / "data"

# R-IN-1 channels with the words users see.
CHANNELS: dict[str, str] = {
    "hotline_12388": "12388 纪检监察举报电话",
    "hotline_12345": "12345 政务服务便民热线",
    "hotline_12380": "12380 组织部举报电话",
    "qr_code": "扫码随手拍",
    "petition": "信访",
    "media": "新闻媒体",
    "online": "网络平台",
    "walk_in": "现场举报投诉台",
    "inspection": "明察暗访",
    "mayor_line": "市长专线",
    "open311": "Open311 接口",
}
HOTLINE_CHANNELS: dict[str, str] = {"12388": "hotline_12388", "12345": "hotline_12345", "12380": "hotline_12380"}
# Channels staff enter through POST /api/v1/intake/reports.
STAFF_CHANNELS: tuple[str, ...] = ("petition", "media", "online", "walk_in", "inspection", "mayor_line")
STAFF_INTAKE_ROLES: tuple[str, ...] = ("triage_officer", "investigator", "org_officer")

# A clue's status as the reporter sees it; driven by triage and accountability events.
STATUS_LABELS: dict[str, str] = {
    "received": "已登记",
    "accepted": "已纳入督办",
    "transferred": "已转办责任单位",
    "merged": "已与相同线索合并办理",
    "set_aside": "已存查",
    "concluded": "已办结（有调查结论）",
    "closed": "已结案",
}
# 热线回告: the stages a hotline hears of (callbacks and the status pull). The status stages are named like
# the status they enter; "feedback" carries the wording the reporter is given, for the line's caller.
HOTLINE_STAGES: dict[str, str] = {
    "accepted": "受理",
    "transferred": "转办",
    "merged": "合并办理",
    "set_aside": "存查",
    "concluded": "办结",
    "closed": "结案",
    "feedback": "反馈",
}
# Reporter messages not passed on to a hotline: the receipt acknowledgement (the line has its own), and the
# rating request, whose link is the reporter's own credential.
HOTLINE_UNFORWARDED_FEEDBACK = frozenset({"received", "rating-request"})
_SCREENED = {"accepted", "transferred", "merged", "set_aside"}
# Explicit transitions. Events of different topics are not ordered relative to each other, so a stale
# event (e.g. a re-screen arriving after the case concluded) finds no transition and changes nothing.
TRANSITIONS: dict[str, frozenset[str]] = {
    "received": frozenset(_SCREENED | {"concluded", "closed"}),
    **{state: frozenset((_SCREENED - {state}) | {"concluded", "closed"}) for state in _SCREENED},
    "concluded": frozenset({"closed"}),
    "closed": frozenset(),
}
TRIAGE_DECISION_STATUS: dict[str, str] = {
    "accept": "accepted", "transfer": "transferred", "merge": "merged", "set_aside": "set_aside",
}


def sources_of(target: str) -> list[str]:
    """The states from which ``target`` may be entered."""
    return sorted(state for state, targets in TRANSITIONS.items() if target in targets)


# Open311 services: our problem families (DOMAIN R-TR-2) and the 涉企 fast lane, as GeoReport services.
OPEN311_SERVICES: list[dict[str, Any]] = [
    {"service_code": "inaction", "service_name": "不作为", "group": "作风问题",
     "description": "我行我素、不严不实、不勤不干、畏首畏尾、廉而不为", "keywords": "不作为,推诿,懒政"},
    {"service_code": "slow_action", "service_name": "慢作为", "group": "作风问题",
     "description": "消极懈怠、效率低下、漠视群众、敷衍应付、中梗阻、踢皮球", "keywords": "慢作为,拖延,效率低"},
    {"service_code": "misconduct", "service_name": "乱作为", "group": "作风问题",
     "description": "不讲程序、原则、规矩、法纪乱办事", "keywords": "乱作为,违规,吃拿卡要"},
    {"service_code": "enterprise", "service_name": "涉企投诉", "group": "营商环境",
     "description": "企业反映的审批、服务、项目落地问题（即查即办）", "keywords": "涉企,审批,营商环境"},
    {"service_code": "other", "service_name": "其他作风问题", "group": "作风问题",
     "description": "其他机关作风问题", "keywords": "作风"},
]
OPEN311_ENTERPRISE_SERVICES = frozenset({"enterprise"})


@lru_cache
def hotline_field_maps() -> dict[str, dict[str, str]]:
    """Line → {their field: our field (dotted for the nested reporter)}."""
    raw = yaml.safe_load((DATA / "hotline_fields.yaml").read_text(encoding="utf-8"))
    return {str(line): {str(k): str(v) for k, v in fields.items()} for line, fields in raw.items()}


def catalog() -> dict[str, Any]:
    from .attachments import ALLOWED_MEDIA_TYPES

    return {
        "channels": [{"code": c, "label": label} for c, label in CHANNELS.items()],
        "staff_channels": list(STAFF_CHANNELS),
        "statuses": [{"code": s, "label": label} for s, label in STATUS_LABELS.items()],
        "transitions": {s: sorted(t) for s, t in TRANSITIONS.items()},
        "hotline_field_maps": hotline_field_maps(),
        "attachment_media_types": sorted(ALLOWED_MEDIA_TYPES),
        "open311_services": [s["service_code"] for s in OPEN311_SERVICES],
        "hotline_stages": [{"code": c, "label": label} for c, label in HOTLINE_STAGES.items()],
    }
