"""Higher-level feedback handed down as tasks (交办, R-SU-2): a 巡视反馈意见 or 专项督察通报 with its items, each
item a drive task for a lead unit and responsible units with a deadline.

The tasks are ordinary drive tasks (drives.py): the units report progress on them, notification puts them in
the units' inboxes and watches their deadlines, and the overdue list shows them. What this module adds is the
document: where each task came from (``handed_down_from`` names the document and the item's number) and how
far the rectification of the whole document has got. A document named with no drive gets one of its own
(one phase, 整改落实, from its receipt to its last deadline)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.contracts.drives import FeedbackHandedDown
from services.common.errors import Problem
from services.common.ids import new_id
from services.common.outbox import Outbox
from services.common.scope import Scope

from . import drives
from .drive_models import drive_tasks, feedback_documents, feedback_items

KIND_LABELS = {"inspection_tour": "巡视反馈意见", "supervision": "专项督察通报", "other": "上级交办意见"}


async def register(session: AsyncSession, outbox: Outbox, *, body: dict[str, Any], by: str) -> uuid.UUID:
    items = body["items"]
    if body.get("drive_id") is not None:
        drive_id = body["drive_id"]
        await drives._drive(session, drive_id)  # 404 if unknown
    else:
        last = max(i["deadline"] for i in items)
        if last < body["received_on"]:
            raise Problem(422, "整改时限不能早于收到反馈意见的日期。", slug="deadline-before-receipt")
        drive_id = await drives.create_drive(session, title=f"{body['title']}整改落实", by=by, phases=[
            {"name": "整改落实", "starts_on": body["received_on"], "ends_on": last}])
    document_id = new_id()
    await session.execute(insert(feedback_documents).values(
        id=document_id, kind=body["kind"], title=body["title"], issued_by=body["issued_by"],
        doc_number=body.get("doc_number"), received_on=body["received_on"], drive_id=drive_id, created_by=by))
    await add_items(session, outbox, document_id=document_id, items=items)
    return document_id


async def _document(session: AsyncSession, document_id: uuid.UUID):
    row = (await session.execute(select(feedback_documents).where(feedback_documents.c.id == document_id))).first()
    if row is None:
        raise Problem(404, "没有这份反馈意见。", slug="not-found")
    return row


async def add_items(session: AsyncSession, outbox: Outbox, *, document_id: uuid.UUID, items: list[dict[str, Any]]
                    ) -> list[uuid.UUID]:
    """Each item becomes a drive task named after the document and its number (第 n 条)."""
    doc = await _document(session, document_id)
    for item in items:
        if item["deadline"] < doc.received_on:
            raise Problem(422, f"反馈问题“{item['text'][:20]}”的整改时限早于收到反馈意见的日期。",
                          slug="deadline-before-receipt")
    seq: int = await session.scalar(select(func.coalesce(func.max(feedback_items.c.seq), 0))
                                    .where(feedback_items.c.document_id == document_id)) or 0
    task_ids, units = [], []
    for item in items:
        seq += 1
        origin = f"{KIND_LABELS[doc.kind]}《{doc.title}》第{seq}条"
        task_id = await drives.add_task(session, outbox, drive_id=doc.drive_id, body={
            "title": item["text"][:500], "phase": None, "lead_unit": item["lead_unit"],
            "responsible_units": item["responsible_units"], "deadline": item["deadline"],
            "handed_down_from": origin})
        await session.execute(insert(feedback_items).values(
            id=new_id(), document_id=document_id, seq=seq, text=item["text"], requirement=item.get("requirement"),
            task_id=task_id))
        task_ids.append(task_id)
        units += [item["lead_unit"], *item["responsible_units"]]
    await outbox.publish(session, FeedbackHandedDown(
        document_id=document_id, kind=doc.kind, kind_label=KIND_LABELS[doc.kind], title=doc.title,
        issued_by=doc.issued_by, drive_id=doc.drive_id, task_ids=task_ids, units=sorted(set(units)),
        handed_down_at=datetime.now(UTC)))
    return task_ids


def _doc_read(d) -> dict[str, Any]:
    return {"id": d.id, "kind": d.kind, "kind_label": KIND_LABELS[d.kind], "title": d.title,
            "issued_by": d.issued_by, "doc_number": d.doc_number, "received_on": d.received_on,
            "drive_id": d.drive_id}


async def view(session: AsyncSession, document_id: uuid.UUID, scope: Scope) -> dict[str, Any]:
    """The document with its items, each with its task's parts per unit (已完成/推进中/逾期未完成), and how far
    the whole rectification has got. A unit sees the items it answers for only (404 if none)."""
    doc = await _document(session, document_id)
    rows = (await session.execute(select(feedback_items).where(feedback_items.c.document_id == document_id)
                                  .order_by(feedback_items.c.seq))).all()
    tasks = {t["id"]: t for t in await drives._tasks(
        session, select(drive_tasks).where(drive_tasks.c.id.in_([r.task_id for r in rows])), scope)} if rows else {}
    items = [{"seq": r.seq, "seq_label": f"第{r.seq}条", "text": r.text, "requirement": r.requirement,
              "task": tasks[r.task_id]} for r in rows if r.task_id in tasks]
    if scope.unit_bound and not items:
        raise Problem(404, "没有这份反馈意见。", slug="not-found")
    out = _doc_read(doc)
    out["items"] = items
    done = sum(i["task"]["done"] for i in items)
    overdue = sum(i["task"]["overdue"] for i in items)
    out["progress"] = {"items": len(items), "done": done, "overdue": overdue,
                       "label": f"共{len(items)}条，已完成{done}条，逾期{overdue}条"}
    return out


async def list_documents(session: AsyncSession, scope: Scope) -> list[dict[str, Any]]:
    docs = (await session.execute(select(feedback_documents).order_by(feedback_documents.c.received_on.desc()))).all()
    out = []
    for d in docs:
        try:
            v = await view(session, d.id, scope)
        except Problem:
            continue  # a unit with no item in it
        out.append({**_doc_read(d), "progress": v["progress"]})
    return out


