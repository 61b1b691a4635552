"""Routes of the key-project register (重点项目): register, phone checks, links, the project view.

The commission's staff only: a unit handler is refused outright, since a project's view shows the clues
the commission keeps about the units involved in its approval (and the owner who spoke to it)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field, model_validator

from services.common.auth import CurrentPrincipal, Principal
from services.common.db import SessionDep
from services.common.errors import Problem
from services.common.scope import scope_of
from services.common.text import StorableModel

from . import projects

router = APIRouter(prefix="/api/v1/triage/projects", tags=["key-projects"])


def _roles(*roles: str):
    async def dependency(principal: CurrentPrincipal) -> Principal:
        if principal.kind != "staff" or scope_of(principal).unit_bound or not principal.has_role(*roles):
            raise Problem(403, "重点项目台账只向委机关工作人员开放。", slug="forbidden-role")
        return principal
    return Depends(dependency)


Keeper = Annotated[Principal, _roles("triage_officer", "investigator")]
Reader = Annotated[Principal, _roles("triage_officer", "investigator", "org_officer", "auditor")]
Name = Annotated[str, Field(min_length=1, max_length=100)]


class Milestone(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    due: date
    done_on: date | None = None


class ProjectCreate(StorableModel):
    code: str = Field(min_length=1, max_length=64, description="台账编号")
    name: str = Field(min_length=2, max_length=200)
    level: Literal["provincial", "city", "county"]
    owner: str = Field(min_length=2, max_length=200, description="项目业主")
    owner_contact: str | None = Field(None, max_length=200)
    leader: str = Field(min_length=1, max_length=100, description="一名领导")
    team: list[Name] = Field(min_length=1, max_length=50, description="一套班子")
    approval_units: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(max_length=100)
    milestones: list[Milestone] = Field(default_factory=list, max_length=100)


class Answers(BaseModel):
    obstruction: bool = Field(description="是否存在故意刁难")
    delay: bool = Field(description="是否存在推诿拖延")
    extortion: bool = Field(description="是否存在吃拿卡要")


class CheckCreate(StorableModel):
    spoke_with: str = Field(min_length=1, max_length=100, description="接受询问的业主方人员")
    answers: Answers
    other_problem: bool = False
    unit_id: str | None = Field(None, max_length=64, description="业主反映的审批服务单位")
    account: str | None = Field(None, max_length=5000, description="询问记录")
    checked_at: datetime | None = None

    @model_validator(mode="after")
    def _a_bad_answer_says_what(self) -> CheckCreate:
        bad = self.other_problem or any(self.answers.model_dump().values())
        if bad and not (self.account and len(self.account.strip()) >= 5):
            raise ValueError("反映了问题的询问必须写明询问记录（account）")
        return self


class LinkCreate(StorableModel):
    kind: Literal["clue", "case"]
    id: uuid.UUID
    case_number: str | None = Field(None, max_length=64)


@router.post("", status_code=201)
async def post_project(body: ProjectCreate, request: Request, session: SessionDep, principal: Keeper
                       ) -> dict[str, Any]:
    project_id = await projects.register(session, request.app.state.outbox, body=body.model_dump(mode="json"),
                                         by=principal.subject)
    return await projects.view(session, project_id)


@router.get("")
async def get_projects(session: SessionDep, principal: Reader) -> list[dict[str, Any]]:
    return await projects.list_projects(session)


@router.get("/{project_id}")
async def get_project(project_id: uuid.UUID, session: SessionDep, principal: Reader) -> dict[str, Any]:
    """项目视图: the project, its phone checks, clues and cases."""
    return await projects.view(session, project_id)


@router.post("/{project_id}/checks", status_code=201)
async def post_check(project_id: uuid.UUID, body: CheckCreate, request: Request, session: SessionDep,
                     principal: Keeper) -> dict[str, Any]:
    """电话询问: logged with the answers; a bad answer becomes a clue linked to the project."""
    return await projects.log_check(session, request.app.state.outbox, project_id=project_id,
                                    body=body.model_dump(), by=principal.subject)


@router.post("/{project_id}/links", status_code=201)
async def post_link(project_id: uuid.UUID, body: LinkCreate, session: SessionDep, principal: Keeper
                    ) -> dict[str, Any]:
    if body.kind == "clue":
        await projects.link_clue(session, project_id=project_id, clue_id=body.id, by=principal.subject)
    else:
        await projects.link_case_by_hand(session, project_id=project_id, case_id=body.id,
                                         case_number=body.case_number, by=principal.subject)
    return await projects.view(session, project_id)
