"""满意度回访: the rating request and its link, the reporter's answer (with a comment), the reminder.

The link's token is 256 random bits, stored only as its SHA-256; the link itself is the only
authorisation, so the page behind it is public (rate limited at the gateway) and shows nothing of the
reporter. A reminder mints a second token (``rating_links``) that answers the same request.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import date, datetime, time, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.contracts.notification import FeedbackReceived

from ..models import ratings
from ..rendering import SHANGHAI
from ..rating_models import rating_links
from .core import Notifier, feedback_to_reporter, now_utc, today_local


class RatingNotFound(Exception):
    pass


class RatingAlreadyGiven(Exception):
    pass


class RatingExpired(Exception):
    pass


RATING_LABELS: dict[int, str] = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}


def token_hash(token: str) -> str:
    # The token is 256 random bits: a fast hash is enough (nothing to brute-force), unlike receipt codes.
    return hashlib.sha256(token.encode()).hexdigest()


def rating_link(notifier: Notifier, token: str) -> str:
    return f"{notifier.settings.public_base_url.rstrip('/')}/api/v1/notification/ratings/{token}"


async def request_rating(
    session: AsyncSession, *, notifier: Notifier, clue_id: uuid.UUID, source: str, case_id: uuid.UUID | None = None,
    case_number: str | None = None, unit_id: str | None = None,
) -> bool:
    """Open one rating request for the handling and send its link; a second request for it is a no-op."""
    s = notifier.settings
    token = secrets.token_urlsafe(32)
    values = dict(token_hash=token_hash(token), clue_id=clue_id, case_id=case_id, case_number=case_number,
                  unit_id=unit_id, expires_at=now_utc() + timedelta(days=s.rating_valid_days))
    insert = pg_insert(ratings).values(**values)
    insert = (insert.on_conflict_do_nothing(index_elements=["clue_id", "case_id"]) if case_id is not None else
              insert.on_conflict_do_nothing(index_elements=["clue_id"], index_where=ratings.c.case_id.is_(None)))
    created = (await session.execute(insert.returning(ratings.c.token_hash))).first()
    if created is None:
        return False
    await feedback_to_reporter(session, notifier=notifier, clue_id=clue_id, stage="rating-request",
                               source=f"{source}:rating", rating_link=rating_link(notifier, token),
                               valid_days=s.rating_valid_days)
    return True


async def _find(session: AsyncSession, token: str, *, lock: bool = False):
    hashed = token_hash(token)
    alias = select(rating_links.c.rating_token_hash).where(rating_links.c.token_hash == hashed).scalar_subquery()
    query = select(ratings).where(or_(ratings.c.token_hash == hashed, ratings.c.token_hash == alias))
    row = (await session.execute(query.with_for_update() if lock else query)).first()
    if row is None:
        raise RatingNotFound
    return row


async def get_rating_request(session: AsyncSession, *, token: str):
    return await _find(session, token)


async def answer_rating(session: AsyncSession, *, notifier: Notifier, token: str, rating: int,
                        comment: str | None = None):
    """The reporter's answer: stored once, then ``feedback-received`` for evaluation's data indicators."""
    now = now_utc()
    row = await _find(session, token, lock=True)
    if row.answered_at is not None:
        raise RatingAlreadyGiven
    if row.expires_at <= now:
        raise RatingExpired
    comment = (comment or "").strip() or None
    updated = (
        await session.execute(
            update(ratings).where(and_(ratings.c.token_hash == row.token_hash, ratings.c.answered_at.is_(None)))
            .values(rating=rating, comment=comment, answered_at=now).returning(ratings)
        )
    ).one()
    await notifier.outbox.publish(session, FeedbackReceived(
        clue_id=row.clue_id, case_id=row.case_id, unit_id=row.unit_id, rating=rating, received_at=now,
        comment=comment))
    return updated


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=SHANGHAI)


async def remind_unrated(session: AsyncSession, *, notifier: Notifier, today: date) -> int:
    """回访提醒: once, when a request is still unanswered N working days after it was sent."""
    s, cal = notifier.settings, notifier.calendar
    now = now_utc()
    # N working days are at least N calendar days: the query narrows, the calendar decides.
    rows = (await session.execute(
        select(ratings).where(ratings.c.answered_at.is_(None), ratings.c.reminded_on.is_(None),
                              ratings.c.expires_at > now,
                              ratings.c.created_at
                              < _start_of(today - timedelta(days=s.rating_remind_working_days - 1)))
        .with_for_update(skip_locked=True))).all()
    sent = 0
    for row in rows:
        if cal.working_days_between(today_local(row.created_at), today) < s.rating_remind_working_days:
            continue
        token = secrets.token_urlsafe(32)
        await session.execute(pg_insert(rating_links).values(token_hash=token_hash(token),
                                                             rating_token_hash=row.token_hash))
        await session.execute(update(ratings).where(ratings.c.token_hash == row.token_hash)
                              .values(reminded_on=today))
        await feedback_to_reporter(session, notifier=notifier, clue_id=row.clue_id, stage="rating-reminder",
                                   source=f"rating-reminder:{row.token_hash}", rating_link=rating_link(notifier, token),
                                   valid_until=row.expires_at)
        sent += 1
    return sent
