"""Import (批量导入): cases with their persons, findings and measures, from JSON or an xlsx sheet.

Every case is validated on its own against the same rules as the API (findings, measure combinations,
"measures only after a substantiated finding"), and imported whole or not at all: one bad row refuses
its case, never the others. Valid cases are written in bulk (one statement per table), and the import
itself is one audit entry with the importer and the SHA-256 of what was sent.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.common.ids import new_id
from services.common.outbox import Outbox

from .. import domain
from ..domain import Finding, Management, Rank, Responsibility
from ..models import audit_log, cases, imports, measures, persons
from .cases import SHANGHAI, Actor, format_case_number

MAX_CASES = 20_000


class ImportMeasure(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=60)
    transferred_for_prosecution: bool = False
    note: str | None = Field(None, max_length=2000)


class ImportPerson(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    post: str | None = Field(None, max_length=200)
    unit_id: str | None = Field(None, max_length=100)
    unit_name: str | None = Field(None, max_length=200)
    rank: Rank | None = None
    party_member: bool = False
    responsibility: Responsibility | None = None
    management: Management | None = None
    measures: list[ImportMeasure] = Field(default_factory=list, max_length=10)


class ImportCase(BaseModel):
    """One case of the bulletin; ``ref`` is its number in the source (案件编号), unique for ever."""

    model_config = ConfigDict(extra="forbid")
    ref: str = Field(min_length=1, max_length=100)
    title: str = Field(min_length=1, max_length=200)
    summary: str | None = Field(None, max_length=4000)
    unit_id: str | None = Field(None, max_length=100)
    unit_name: str | None = Field(None, max_length=200)
    region: str | None = Field(None, max_length=100)
    problem_family: str | None = Field(None, max_length=40)
    problem_type: str | None = Field(None, max_length=60)
    tags: list[str] = Field(default_factory=list, max_length=20)
    campaign: str | None = Field(None, max_length=200)
    must_investigate: bool = False
    serious: bool = False
    unit_problem: bool = False
    opened_on: date | None = None
    finding: Finding | None = None
    finding_summary: str | None = Field(None, max_length=4000)
    concluded_on: date | None = None
    persons: list[ImportPerson] = Field(default_factory=list, max_length=200)


FIELD_NAMES = {
    "ref": "案件编号", "title": "案件标题", "summary": "简要案情", "unit_id": "单位代码", "unit_name": "单位名称",
    "region": "地区", "problem_family": "问题类别", "problem_type": "问题类型", "tags": "标签", "campaign": "专项活动",
    "must_investigate": "五必查", "serious": "重大案件", "unit_problem": "单位问题", "opened_on": "立项日期",
    "finding": "认定结果", "finding_summary": "认定情况", "concluded_on": "认定日期", "persons": "人员",
    "name": "姓名", "post": "职务", "rank": "职级", "party_member": "中共党员", "responsibility": "责任类型",
    "management": "管理权限", "measures": "处理措施", "code": "处理措施", "transferred_for_prosecution": "移送司法",
    "note": "备注",
}
PYDANTIC_WORDS = {
    "missing": "必须填写", "literal_error": "取值不在允许范围内", "string_too_short": "不能为空",
    "string_too_long": "内容过长", "bool_parsing": "须为是或否", "bool_type": "须为是或否",
    "date_from_datetime_parsing": "须为日期 (YYYY-MM-DD)", "date_parsing": "须为日期 (YYYY-MM-DD)",
    "date_type": "须为日期 (YYYY-MM-DD)", "extra_forbidden": "不是可导入的栏目", "list_type": "须为列表",
    "too_long": "条目过多", "string_type": "须为文字", "model_type": "格式不对",
}


def _where(loc: tuple) -> str:
    parts = []
    for part in loc:
        parts.append(f"第{part + 1}项" if isinstance(part, int) else FIELD_NAMES.get(str(part), str(part)))
    return "·".join(parts)


def _pydantic_errors(exc: ValidationError) -> list[tuple[str, str]]:
    return [(_where(e["loc"]), PYDANTIC_WORDS.get(e["type"], "取值无效")) for e in exc.errors()]


def check_case(case: ImportCase) -> list[tuple[str, str]]:
    """The rules a case must meet to be imported: the API's own, applied before anything is written."""
    errors: list[tuple[str, str]] = []
    found = case.finding in ("substantiated", "partly_substantiated")
    if case.finding and not case.concluded_on:
        errors.append(("认定日期", "有认定结果时须填写认定日期"))
    if case.concluded_on and not case.finding:
        errors.append(("认定结果", "有认定日期时须填写认定结果"))
    if case.opened_on and case.concluded_on and case.concluded_on < case.opened_on:
        errors.append(("认定日期", "认定日期早于立项日期"))
    names: set[tuple[str, str | None]] = set()
    for i, person in enumerate(case.persons):
        where = f"人员·第{i + 1}项({person.name})"
        key = (person.name, person.unit_id)
        if key in names:
            errors.append((where, "同一案件中同一人员重复填写; 其多项处理措施请写在同一人员下"))
        names.add(key)
        held: list[str] = []
        for measure in person.measures:
            if not found:
                errors.append((where, "处理措施须在认定属实(或部分属实)之后作出; 本案未认定属实"))
                break
            refusal = domain.check_measure(measure.code, party_member=person.party_member, existing_codes=held,
                                           exempted=False)
            if refusal is not None:
                errors.append((f"{where}·处理措施", refusal.detail))
                continue
            held.append(measure.code)
    return errors


def _state(case: ImportCase) -> str:
    if case.finding == "unfounded":
        return "unfounded"
    if case.finding:
        return "decided" if any(p.measures for p in case.persons) else "substantiated"
    return "filed"


async def import_cases(
    session: AsyncSession, outbox: Outbox, *, raw_cases: list[tuple[list[int], Any]], importer: Actor,
    fmt: str, file_name: str | None, sha256: str, prior_errors: list[dict] | None = None,
) -> dict:
    """``raw_cases``: (source rows, a case as a dict or an already failed marker) in file order.

    Returns the imported cases (ref, id, case number) and the errors, each naming its rows and case."""
    errors: list[dict] = list(prior_errors or [])
    refused_refs = {e["ref"] for e in errors if e.get("ref")}
    valid: list[tuple[list[int], ImportCase]] = []
    seen: set[str] = set()
    for rows, raw in raw_cases:
        ref = str(raw.get("ref") or "") if isinstance(raw, dict) else ""
        if ref in refused_refs:
            continue
        try:
            case = ImportCase.model_validate(raw)
        except ValidationError as exc:
            errors += [{"rows": rows, "ref": ref or None, "field": f, "detail": d} for f, d in _pydantic_errors(exc)]
            continue
        problems = check_case(case)
        if case.ref in seen:
            problems.append(("案件编号", "同一批次中案件编号重复"))
        seen.add(case.ref)
        if problems:
            errors += [{"rows": rows, "ref": case.ref, "field": f, "detail": d} for f, d in problems]
            continue
        valid.append((rows, case))
    if valid:
        keys = [f"import:{c.ref}" for _, c in valid]
        already = set((await session.scalars(select(cases.c.origin_key).where(cases.c.origin_key.in_(keys)))).all())
        for rows, case in valid:
            if f"import:{case.ref}" in already:
                errors.append({"rows": rows, "ref": case.ref, "field": "案件编号",
                               "detail": "该案件编号已导入过, 未重复导入"})
        valid = [(rows, c) for rows, c in valid if f"import:{c.ref}" not in already]
    imported = await _write(session, [c for _, c in valid], importer) if valid else []
    import_id = new_id()
    refused = len({e["ref"] or tuple(e["rows"]) for e in errors})
    await session.execute(imports.insert().values(
        id=import_id, importer=importer.subject if hasattr(importer, "subject") else importer, format=fmt,
        file_name=file_name, sha256=sha256, cases_imported=len(imported), cases_refused=refused))
    await _flag_must_investigate(session, outbox, [c for _, c in valid], imported)
    # One entry for the whole import, written last: the audit chain's lock is then held only briefly.
    await audit.record(session, audit_log, actor=importer, action="cases.imported", entity_type="import",
                       entity_id=str(import_id), details={"format": fmt, "file_name": file_name, "sha256": sha256,
                                                         "cases_imported": len(imported), "cases_refused": refused})
    errors.sort(key=lambda e: (e["rows"][0] if e["rows"] else 0))
    return {"import_id": import_id, "sha256": sha256, "cases_imported": len(imported), "cases_refused": refused,
            "imported": imported, "errors": errors}


async def _write(session: AsyncSession, valid: list[ImportCase], importer: Actor) -> list[dict]:
    numbers = (await session.scalars(text(
        "SELECT nextval('accountability.case_number_seq') FROM generate_series(1, :n)"), {"n": len(valid)})).all()
    now = datetime.now(UTC)
    opened_by = importer.subject if hasattr(importer, "subject") else importer
    case_rows, person_rows, measure_rows, imported = [], [], [], []
    for case, number in zip(valid, numbers, strict=True):
        case_id = new_id()
        opened_at = datetime.combine(case.opened_on, time(9), SHANGHAI) if case.opened_on else now
        case_number = format_case_number(opened_at, number)
        tags = sorted(set(case.tags))
        case_rows.append({
            "id": case_id, "case_number": case_number, "state": _state(case), "source": "import",
            "origin_key": f"import:{case.ref}", "title": case.title, "summary": case.summary,
            "unit_id": case.unit_id, "unit_name": case.unit_name, "region": case.region,
            "problem_family": case.problem_family, "problem_type": case.problem_type, "serious": case.serious,
            "unit_problem": case.unit_problem, "finding": case.finding, "finding_summary": case.finding_summary,
            "outcome_summary": None, "concluded_on": case.concluded_on, "opened_by": opened_by,
            "opened_at": opened_at, "updated_at": now, "lead_body": "commission",
            "must_investigate": case.must_investigate, "tags": tags, "campaign": case.campaign,
            "due_on": opened_at.astimezone(SHANGHAI).date() + timedelta(days=domain.time_limit_days(tags)),
        })
        imported.append({"ref": case.ref, "case_id": case_id, "case_number": case_number})
        for person in case.persons:
            person_id = new_id()
            person_rows.append({
                "id": person_id, "case_id": case_id, "name": person.name, "post": person.post,
                "unit_id": person.unit_id or case.unit_id, "unit_name": person.unit_name or case.unit_name,
                "rank": person.rank, "party_member": person.party_member, "responsibility": person.responsibility,
                "leader_role": None, "management": person.management,
            })
            for measure in person.measures:
                kind = domain.MEASURES_BY_CODE[measure.code]
                measure_rows.append({
                    "id": new_id(), "case_id": case_id, "person_id": person_id, "family": kind.family,
                    "code": measure.code, "transferred_for_prosecution": measure.transferred_for_prosecution,
                    "form": domain.measure_form(measure.code,
                                                transferred_for_prosecution=measure.transferred_for_prosecution),
                    "note": measure.note,
                })
    for table, rows in ((cases, case_rows), (persons, person_rows), (measures, measure_rows)):
        for start in range(0, len(rows), 5000):
            await session.execute(table.insert(), rows[start:start + 5000])
    return imported


async def _flag_must_investigate(session: AsyncSession, outbox: Outbox, valid: list[ImportCase],
                                 imported: list[dict]) -> None:
    """R-AC-9 holds for imported cases too: a substantiated 五必查 case costs its unit the year's awards."""
    from .publishing import flag_award_ineligible

    for case, done in zip(valid, imported, strict=True):
        if case.must_investigate and case.finding in ("substantiated", "partly_substantiated") and case.unit_id:
            await flag_award_ineligible(session, outbox, case_id=done["case_id"], year=case.concluded_on.year)


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()

