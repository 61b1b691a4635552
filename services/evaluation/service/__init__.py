"""Evaluation's domain logic over the database (no HTTP): campaigns, ballots, scores, results, read models."""

from ._shared import get_campaign
from .ballots import (
    Origin,
    import_ballots,
    ingest_ballots,
    list_imports,
    list_quarantine,
    review_ballot,
    scan_for_stuffing,
)
from .campaigns import (
    add_units,
    create_campaign,
    import_directory_units,
    list_campaigns,
    list_units,
    transition,
)
from .facts import count_complaints, put_complaint, put_fact, upsert_directory_unit
from .opinions import list_opinions, opinion_counts
from .results import compute_results, rankings
from .scores import record_scores, record_veto
from .verification import consume_code, request_code

__all__ = [
    "Origin", "consume_code", "import_ballots", "list_imports", "list_opinions", "opinion_counts", "request_code",
    "add_units", "compute_results", "count_complaints", "put_complaint", "create_campaign", "get_campaign",
    "import_directory_units",
    "ingest_ballots", "list_campaigns", "list_quarantine", "list_units", "put_fact", "rankings",
    "record_scores", "record_veto", "review_ballot", "scan_for_stuffing", "transition", "upsert_directory_unit",
]
