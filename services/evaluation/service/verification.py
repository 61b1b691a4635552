"""One-time SMS codes that verify a web voter (R-EV-3): rate limited per phone and per client, hashed,
short-lived, single use, sent through notification (sealed) rather than by evaluation itself."""

from __future__ import annotations

import hmac
import secrets
import uuid
from datetime import UTC, datetime, timedelta

import orjson
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.contracts.evaluation import SealedText, VoterCodeRequested
from services.common.crypto import KeyRing
from services.common.db import session_scope
from services.common.errors import Problem
from services.common.outbox import Outbox

from .. import domain
from ..models import voter_codes
from ._shared import get_campaign, require_state

CODE_AD = b"voter-code"


def _code_hash(key: bytes, voter: bytes, code: str) -> bytes:
    return hmac.new(key, voter + b"\x1f" + code.encode(), "sha256").digest()


def _voter(key: bytes, campaign_id: uuid.UUID, phone: str) -> tuple[bytes, str]:
    try:
        e164 = domain.normalise_phone(phone)
    except domain.InvalidIdentity as exc:
        raise Problem(422, f"{exc}, 请输入11位手机号码。", slug="invalid-phone") from exc
    return domain.voter_hash(key, str(campaign_id), e164), e164


async def request_code(session: AsyncSession, outbox: Outbox, *, campaign_id: uuid.UUID, phone: str,
                       client: str | None, key: bytes, keyring: KeyRing | None, settings) -> dict:
    campaign = await get_campaign(session, campaign_id, lock="share")
    require_state(campaign, "open", doing="投票")
    if campaign["instrument"] != "poll":
        raise Problem(409, "作风建设综合考核不接受市民投票。", slug="not-a-poll")
    if keyring is None:
        raise Problem(503, "短信验证暂不可用, 请稍后再试。", slug="sms-unavailable")
    voter, e164 = _voter(key, campaign_id, phone)
    now = datetime.now(UTC)
    # Serialise requests for one phone (two replicas, one double tap) so the limits count exactly.
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(voter.hex(), 17))))
    last, today = (await session.execute(
        select(func.max(voter_codes.c.created_at), func.count())
        .where(voter_codes.c.campaign_id == campaign_id, voter_codes.c.voter_hash == voter,
               voter_codes.c.created_at > now - timedelta(days=1)))).one()
    if last is not None and now - last < timedelta(seconds=settings.code_interval_seconds):
        wait = settings.code_interval_seconds - int((now - last).total_seconds())
        raise Problem(429, f"验证码已发送, 请{wait}秒后再试。", slug="code-too-soon", retry_after=wait)
    if today >= settings.codes_per_phone_per_day:
        raise Problem(429, "该手机号今日获取验证码次数已达上限。", slug="code-daily-limit")
    if client:
        per_client = await session.scalar(
            select(func.count()).where(voter_codes.c.client == client,
                                       voter_codes.c.created_at > now - timedelta(hours=1)))
        if per_client >= settings.codes_per_client_per_hour:
            raise Problem(429, "本网络获取验证码过于频繁, 请稍后再试。", slug="code-client-limit")
    code = f"{secrets.randbelow(10**6):06d}"
    expires = now + timedelta(seconds=settings.code_ttl_seconds)
    await session.execute(voter_codes.insert().values(
        campaign_id=campaign_id, voter_hash=voter, code_hash=_code_hash(key, voter, code), client=client,
        created_at=now, expires_at=expires))
    sealed = keyring.seal(orjson.dumps({"phone": e164, "code": code}), CODE_AD).as_text()
    await outbox.publish(session, VoterCodeRequested(
        campaign_id=campaign_id, campaign_name=campaign["name"], sealed=SealedText(**sealed), expires_at=expires))
    return {"sent": True, "expires_in": settings.code_ttl_seconds}


async def consume_code(session: AsyncSession, sessions, *, campaign_id: uuid.UUID, phone: str, code: str,
                       key: bytes, max_attempts: int) -> bytes:
    """The voter hash of a phone whose latest live code matches; the code is then spent (in ``session``, so
    a ballot that fails gives it back). A wrong guess is counted in a transaction of its own (``sessions``),
    which the failing request cannot roll back; the code dies after ``max_attempts``."""
    voter, _ = _voter(key, campaign_id, phone)
    now = datetime.now(UTC)
    row = (await session.execute(
        select(voter_codes.c.id, voter_codes.c.code_hash, voter_codes.c.attempts)
        .where(voter_codes.c.campaign_id == campaign_id, voter_codes.c.voter_hash == voter,
               voter_codes.c.used_at.is_(None), voter_codes.c.expires_at > now)
        .order_by(voter_codes.c.created_at.desc()).limit(1))).first()
    invalid = Problem(422, "验证码不正确或已失效, 请重新获取。", slug="code-invalid")
    if row is None or row.attempts >= max_attempts:
        raise invalid
    if not hmac.compare_digest(row.code_hash, _code_hash(key, voter, code.strip())):
        async with session_scope(sessions) as own:
            await own.execute(update(voter_codes).where(voter_codes.c.id == row.id)
                              .values(attempts=voter_codes.c.attempts + 1))
        raise invalid
    spent = await session.scalar(
        update(voter_codes).where(voter_codes.c.id == row.id, voter_codes.c.used_at.is_(None),
                                  voter_codes.c.attempts < max_attempts)
        .values(used_at=now).returning(voter_codes.c.id))
    if spent is None:  # a concurrent request spent it first
        raise invalid
    return voter
