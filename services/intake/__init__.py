"""Intake: clues in from hotline feeds, QR posters, staff channels and Open311; receipts; attachments."""
