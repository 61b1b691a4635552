"""Intake's domain logic (no HTTP here): :mod:`.accepting` takes clues in from every channel,
:mod:`.records` keeps what follows (posters, staff reads, identity reveal, receipts, status)."""

from .accepting import (
    SHANGHAI,
    Accepted,
    NewClue,
    _event,
    _Prepared,
    accept_clues,
    accept_hotline_batch,
    format_tracking_number,
    hotline_clue,
    invalid_detail,
    map_hotline_fields,
    next_tracking_numbers,
    parse_hotline_report,
    safe_errors,
    seal_reporter,
    tracking_sequence_name,
)
from .records import (
    create_poster,
    find_receipt_clue,
    get_clue,
    get_poster,
    list_attachments,
    list_posters,
    move_status,
    open_identity,
    receipt_status,
    record_feedback,
    record_unit_name,
    update_poster,
)
from .hotline import ticket_status
from .reveal import approve_reveal, claim_approval

__all__ = [
    "SHANGHAI", "Accepted", "NewClue", "_Prepared", "_event", "accept_clues", "accept_hotline_batch",
    "approve_reveal", "claim_approval",
    "create_poster", "find_receipt_clue", "format_tracking_number", "get_clue", "get_poster", "hotline_clue",
    "invalid_detail",
    "list_attachments", "list_posters", "map_hotline_fields", "move_status", "next_tracking_numbers",
    "open_identity", "parse_hotline_report", "receipt_status", "record_feedback", "record_unit_name", "safe_errors",
    "seal_reporter",
    "ticket_status", "tracking_sequence_name", "update_poster",
]
