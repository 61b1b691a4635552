"""Evaluation's domain logic over the database (no HTTP): campaigns, ballots, scores, results, read models."""

from ._shared import get_campaign
from .ballots import ingest_ballots, list_quarantine, review_ballot, scan_for_stuffing
from .campaigns import (
    add_units,
    create_campaign,
    import_directory_units,
    list_campaigns,
    list_units,
    transition,
)
from .facts import put_fact, upsert_directory_unit
from .results import compute_results, rankings
from .scores import record_scores, record_veto

__all__ = [
    "add_units", "compute_results", "create_campaign", "get_campaign", "import_directory_units",
    "ingest_ballots", "list_campaigns", "list_quarantine", "list_units", "put_fact", "rankings",
    "record_scores", "record_veto", "review_ballot", "scan_for_stuffing", "transition", "upsert_directory_unit",
]
