"""A key project's bad phone check (重点项目电话询问) becomes a clue the commission keeps (R-SU-5).

Triage logs the check and publishes it; the clue is made here so that it gets a tracking number and the
same ``clue-received`` as any other, on channel ``project_check``. The check's id is the clue's external
id: a replayed event finds the clue already stored and makes no second one."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.consumer import Handler
from services.common.contracts.projects import KeyProjectChecked
from services.common.events import CloudEvent
from services.common.outbox import Outbox

from . import service
from .settings import IntakeSettings

PROBLEM_LABELS = {"obstruction": "故意刁难", "delay": "推诿拖延", "extortion": "吃拿卡要", "other": "其他作风问题"}


def clue_text(event: KeyProjectChecked) -> str:
    problems = "、".join(PROBLEM_LABELS[p] for p in event.problems)
    said = f"业主反映：{event.account}" if event.account else ""
    return f"重点项目“{event.project_name}”（{event.project_code}）电话询问发现{problems}问题。{said}"


def handlers(outbox: Outbox, settings: IntakeSettings) -> dict[type, Handler]:
    async def on_key_project_checked(session: AsyncSession, event: KeyProjectChecked, envelope: CloudEvent) -> None:
        if not event.problems:
            return
        await service.accept_clues(session, outbox, settings, new=[service.NewClue(
            channel="project_check", text=clue_text(event), recorded_by="system:key-project-check",
            subject=event.unit_id, unit_id=event.unit_id, enterprise_related=True, external_id=str(event.check_id),
            kept_by_commission=True)])

    return {KeyProjectChecked: on_key_project_checked}
