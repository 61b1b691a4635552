"""Notification's domain rules: who hears what, on which channel, when (no HTTP here).

``core`` (the Notifier, recipients, queueing), ``reporters`` (受理回执, feedback, 满意度回访),
``oversight`` (督查督办: reminders and escalation), ``bulletins`` (公开通报), ``reading`` (queries).
"""

from .bulletins import (
    compose_monthly_bulletin,
    list_drafts,
    previous_month,
    publish_draft,
    publish_bulletin,
    publish_results,
    publish_typical_case,
    record_daily_sheet,
)
from .core import (
    ContactUnavailable,
    Notifier,
    addresses_for,
    feedback_to_reporter,
    notify_office,
    notify_unit,
    now_utc,
    open_contact,
    queue_message,
    record_unit,
    today_local,
    unit_name,
)
from .oversight import assign_rectification, escalate, rectification_overdue, remind_and_escalate, watch_deadline
from .reading import get_bulletin, list_bulletins, list_deliveries, list_inbox, mark_read
from .ratings import (
    RatingAlreadyGiven,
    RatingExpired,
    RatingNotFound,
    answer_rating,
    get_rating_request,
    remind_unrated,
    request_rating,
)
from .reporters import acknowledge_clue, close_case, conclude_case, route_clue

__all__ = [
    "ContactUnavailable", "Notifier", "RatingAlreadyGiven", "RatingExpired", "RatingNotFound", "acknowledge_clue",
    "addresses_for", "answer_rating", "assign_rectification", "close_case", "compose_monthly_bulletin",
    "conclude_case", "escalate", "feedback_to_reporter", "get_bulletin", "get_rating_request", "list_bulletins",
    "list_deliveries", "list_inbox", "mark_read", "notify_office", "notify_unit", "now_utc", "open_contact",
    "list_drafts", "previous_month", "publish_bulletin", "publish_draft", "publish_results", "publish_typical_case",
    "queue_message", "record_daily_sheet", "record_unit", "rectification_overdue", "remind_and_escalate",
    "remind_unrated", "request_rating", "route_clue",
    "today_local", "unit_name", "watch_deadline",
]
