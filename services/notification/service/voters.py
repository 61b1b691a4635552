"""One-time codes for web voters (evaluation's ``voter-code-requested``): one SMS, never on another channel.

The phone number stays sealed in the delivery's recipient reference and is opened only in memory when the
SMS goes out (like reporters' contacts). The code is in the body, but is worthless without the phone: the
ballot needs both, and evaluation keeps only their keyed hashes.
"""

from __future__ import annotations

import json

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.contracts.evaluation import VoterCodeRequested
from services.common.crypto import Sealed

from ..rendering import SHANGHAI, Rendered
from .core import ContactUnavailable, Notifier, queue_message

CODE_AD = b"voter-code"


def open_voter(notifier: Notifier, ref: str) -> dict[str, str]:
    """``kid.nonce.ciphertext`` → {"phone": …, "code": …}, in memory only."""
    if notifier.keyring is None:
        raise ContactUnavailable("no contact key ring configured")
    try:
        kid, nonce, ciphertext = ref.split(".", 2)
        return json.loads(notifier.keyring.open(Sealed.from_text(kid, nonce, ciphertext), CODE_AD))
    except Exception as exc:  # noqa: BLE001 — InvalidTag, unknown kid, bad JSON: all mean "cannot use"
        raise ContactUnavailable(type(exc).__name__) from None


async def send_voter_code(session: AsyncSession, *, notifier: Notifier, event: VoterCodeRequested,
                          source: str) -> int:
    sealed = event.sealed
    ref = f"{sealed.kid}.{sealed.nonce}.{sealed.ciphertext}"
    try:
        code = open_voter(notifier, ref)["code"]
    except ContactUnavailable:
        return 0  # nothing to send with; the voter asks again once the key ring is configured
    until = event.expires_at.astimezone(SHANGHAI).strftime("%H:%M")
    body = f"您的投票验证码为 {code}, {until} 前有效, 仅用于“{event.campaign_name}”投票。请勿告诉他人。"
    return await queue_message(session, source=source, template="evaluation/voter-code", recipient=f"voter:{ref}",
                               rendered=Rendered(subject="投票验证码", body=body), channels=["sms"])
