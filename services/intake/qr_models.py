"""One-time form tokens of the QR page (Post/Redirect/Get). Same metadata as ``models.py``.

The page hands out a random token in a hidden field; the submission that first presents it files the
report, any later one (a reload, the back button) is sent to the same receipt page instead of filing again.
The receipt code is kept sealed beside it only while the receipt page may still show it, then wiped.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Table, Text, Uuid, func

from .models import metadata

qr_submissions = Table(
    "qr_submissions",
    metadata,
    Column("token_hash", Text, primary_key=True),  # SHA-256 of the form token
    Column("poster_code", Text, nullable=False),
    Column("clue_id", Uuid),
    Column("tracking_number", Text),
    Column("receipt_kid", Text),
    Column("receipt_nonce", Text),
    Column("receipt_ciphertext", Text),
    Column("show_until", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
