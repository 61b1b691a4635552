"""The 通报 of a review round (九月大检查、十二月回头看, R-SU-4): drafted when evaluation closes the round, for
an editor to review and publish like the monthly bulletin. It names each unit's results (销号, 退回 by
verdict, 未完成); referrals to the commission or the organization department are not in it."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.contracts.drives import SelfCheckReviewClosed

from ..rendering import render
from .bulletins import publish_bulletin
from .core import Notifier, notify_office, today_local, unit_name


async def draft_bulletin(session: AsyncSession, *, notifier: Notifier, event: SelfCheckReviewClosed) -> bool:
    units = []
    for u in sorted(event.units, key=lambda u: (-u.returned, -u.pending, u.unit_id)):
        verdicts = "、".join(f"{label}{n}项" for label, n in sorted(u.verdicts.items()))
        units.append({"name": await unit_name(session, u.unit_id), "count": u.items, "signed_off": u.signed_off,
                      "returned": u.returned, "pending": u.pending, "verdicts": verdicts})
    rendered = render("bulletin/review_round", title=event.title, units=units,
                      items=sum(u.items for u in event.units), signed_off=sum(u.signed_off for u in event.units),
                      returned=sum(u.returned for u in event.units))
    composed = await publish_bulletin(
        session, source=f"review-round:{event.review_id}", kind="review_round", rendered=rendered,
        published_at=event.closed_at, period=today_local(event.closed_at).strftime("%Y-%m"), status="draft",
        data={"review_id": str(event.review_id), "kind": event.kind, "units": [u.model_dump() for u in event.units]})
    if composed:
        await notify_office(session, notifier=notifier, template="review_round_draft",
                            source=f"review-round-draft:{event.review_id}", title=rendered.subject)
    return composed
