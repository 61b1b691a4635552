"""Intake's records after acceptance: posters, clues for staff, identity reveal, receipts, status."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import orjson
from sqlalchemy import exists, func, insert, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.crypto import Sealed
from services.common.text import is_storable

from .. import catalog, receipts
from ..models import attachments, clues, feedback_messages, posters, reporter_identities, unit_names
from ..models import receipts as receipts_table
from ..settings import IntakeSettings
from . import hotline
from .accepting import key_rings

# ---- posters (宣传画) ------------------------------------------------------------------------------------


async def create_poster(session: AsyncSession, *, code: str | None, unit_id: str, place: str,
                        title: str | None, created_by: str):
    code = code or secrets.token_urlsafe(6).replace("-", "x").replace("_", "y")
    row = (await session.execute(
        insert(posters).values(code=code, unit_id=unit_id, place=place, title=title, created_by=created_by)
        .returning(posters))).first()
    return row


async def update_poster(session: AsyncSession, *, code: str, changes: dict[str, Any]):
    changes = {k: v for k, v in changes.items() if v is not None or k == "title"}
    if not changes or not is_storable(code):
        return await get_poster(session, code=code)
    return (await session.execute(
        update(posters).where(posters.c.code == code).values(**changes).returning(posters))).first()


async def get_poster(session: AsyncSession, *, code: str, active_only: bool = False):
    if not is_storable(code):  # no stored code holds it, and PostgreSQL could not even compare it
        return None
    query = select(posters).where(posters.c.code == code)
    if active_only:
        query = query.where(posters.c.active)
    return (await session.execute(query)).first()


async def list_posters(session: AsyncSession, *, after: str | None, limit: int, unit_id: str | None):
    query = select(posters).order_by(posters.c.code).limit(limit + 1)
    if after:
        query = query.where(posters.c.code > after)
    if unit_id:
        query = query.where(posters.c.unit_id == unit_id)
    rows = (await session.execute(query)).all()
    return rows[:limit], (rows[limit - 1].code if len(rows) > limit else None)


# ---- reading clues, revealing identity -----------------------------------------------------------------


async def get_clue(session: AsyncSession, *, clue_id: uuid.UUID):
    return (await session.execute(select(clues).where(clues.c.id == clue_id))).first()


async def list_attachments(session: AsyncSession, *, clue_id: uuid.UUID):
    return (await session.execute(
        select(attachments).where(attachments.c.clue_id == clue_id).order_by(attachments.c.created_at))).all()


async def open_identity(session: AsyncSession, settings: IntakeSettings, *, clue_id: uuid.UUID
                        ) -> dict[str, Any] | None:
    row = (await session.execute(
        select(reporter_identities).where(reporter_identities.c.clue_id == clue_id))).first()
    if row is None:
        return None
    identity_ring, _ = key_rings(settings)
    plaintext = identity_ring.open(Sealed(row.kid, row.nonce, row.ciphertext), str(clue_id).encode())
    return orjson.loads(plaintext)


# ---- receipts ------------------------------------------------------------------------------------------


async def find_receipt_clue(session: AsyncSession, settings: IntakeSettings, *, code: str) -> uuid.UUID | None:
    canonical = receipts.normalise(code)
    if canonical is None:
        return None
    candidates = (await session.execute(
        select(receipts_table.c.clue_id, receipts_table.c.code_hash)
        .where(receipts_table.c.lookup_id == receipts.lookup_id(settings.receipt_key, canonical)))).all()
    hasher = receipts.ReceiptHasher(time_cost=settings.argon2_time_cost, memory_kib=settings.argon2_memory_kib)
    for candidate in candidates:
        if await asyncio.to_thread(hasher.verify, candidate.code_hash, canonical):
            return candidate.clue_id
    return None


async def receipt_status(session: AsyncSession, *, clue_id: uuid.UUID) -> dict[str, Any]:
    clue = (await session.execute(
        select(clues.c.tracking_number, clues.c.status, clues.c.received_at, clues.c.updated_at)
        .where(clues.c.id == clue_id))).one()
    feedback = (await session.execute(
        select(feedback_messages.c.stage, feedback_messages.c.message, feedback_messages.c.issued_at)
        .where(feedback_messages.c.clue_id == clue_id)
        .order_by(feedback_messages.c.issued_at, feedback_messages.c.id))).all()
    return {
        **clue._mapping,
        "status_label": catalog.STATUS_LABELS.get(clue.status, clue.status),
        "feedback": [dict(f._mapping) for f in feedback],
    }


# ---- status and feedback from downstream events --------------------------------------------------------


async def move_status(session: AsyncSession, *, clue_ids: Sequence[uuid.UUID], to: str, at: datetime,
                      deadline: date | None = None, unit_id: str | None = None, family: str | None = None) -> int:
    """Apply a transition where the table allows it; a stale or repeated event changes nothing.

    Triage's routing makes ``unit_id`` the responsible unit (a poster's unit is only the first guess),
    which is whose handlers may then read the clue, and what Open311 shows as agency_responsible.
    A hotline ticket that moved gets its stage queued for the line's callback (热线回告)."""
    if not clue_ids:
        return 0
    values: dict[str, Any] = {"status": to, "updated_at": func.greatest(func.coalesce(clues.c.updated_at, at), at)}
    if deadline is not None:
        values["deadline"] = deadline
    if unit_id is not None:
        values["unit_id"] = unit_id
    if family is not None:
        values["family"] = family
    if to in catalog.TRIAGE_DECISION_STATUS.values():
        values["transferred"] = to == "transferred"
    moved = (await session.execute(
        update(clues)
        .where(clues.c.id.in_(list(clue_ids)), clues.c.status.in_(catalog.sources_of(to)))
        .values(**values)
        .returning(clues.c.id, clues.c.channel, clues.c.external_id, clues.c.tracking_number, clues.c.status,
                   clues.c.deadline)
    )).all()
    if to in catalog.HOTLINE_STAGES:
        await hotline.record_stage(session, moved, stage=to, at=at)
    return len(moved)


async def record_feedback(session: AsyncSession, *, clue_id: uuid.UUID, stage: str, message: str,
                          issued_at: datetime) -> bool:
    """Keep a message for the receipt page; messages for clues intake never had are ignored."""
    result: CursorResult[Any] = await session.execute(  # type: ignore[assignment]  # an INSERT's result is a CursorResult
        insert(feedback_messages).from_select(
            ["clue_id", "stage", "message", "issued_at"],
            select(literal(clue_id), literal(stage), literal(message), literal(issued_at))
            .where(exists().where(clues.c.id == clue_id)),
        )
    )
    if result.rowcount:
        await hotline.record_feedback_stage(session, clue_id=clue_id, stage=stage, message=message, at=issued_at)
    return bool(result.rowcount)


async def record_unit_name(session: AsyncSession, *, unit_id: str, name: str) -> None:
    await session.execute(
        pg_insert(unit_names).values(unit_id=unit_id, name=name)
        .on_conflict_do_update(index_elements=["unit_id"], set_={"name": name}))

