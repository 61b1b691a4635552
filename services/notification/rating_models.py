"""满意度回访 reminders: each reminder carries a fresh link, an alias of the rating request's own token.

Tokens are stored only as their SHA-256, so the first link cannot be sent again; a reminder mints a new
one that answers the same request. Same metadata as ``models.py``.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Table, Text, func

from .models import metadata

rating_links = Table(
    "rating_links",
    metadata,
    Column("token_hash", Text, primary_key=True),
    Column("rating_token_hash", Text, nullable=False, index=True),  # the ratings row it answers
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
