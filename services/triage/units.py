"""单位名录 (unit directory) and 分办 (routing).

The directory is imported from a YAML tree (region → agencies → sections) or a flat CSV, upserted in bulk
and published entry by entry as ``UnitUpserted`` on the log-compacted ``triage.units`` topic. Routing
looks, in order, at the unit intake pre-routed (the QR poster's unit or the hotline's), a unit named in
the clue's text or subject (longest name or alias wins, the most specific level on a tie), and the
category rules held as data; a clue no rule routes stays with the supervision office itself.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.contracts.triage import UnitUpserted
from services.common.errors import Problem

from .models import units
from .taxonomy import DATA_DIR, build_automaton

DEMO_UNITS_FILE = DATA_DIR / "units-datong-demo.yaml"
ROUTING_RULES_FILE = DATA_DIR / "routing-rules.yaml"
LEVELS = ("region", "agency", "section")
CATEGORIES = ("机关科室", "基层站所", "科教文卫事业单位", "公共服务企业")
_LEVEL_RANK = {"section": 0, "agency": 1, "region": 2}


@dataclass(frozen=True)
class UnitRecord:
    id: str
    name: str
    level: str
    parent_id: str | None = None
    region: str | None = None
    category: str | None = None
    principal_leader: str | None = None
    leader_in_charge: str | None = None
    key_section: bool = False
    aliases: tuple[str, ...] = ()
    active: bool = True

    def row(self) -> dict[str, Any]:
        return {**self.__dict__, "aliases": list(self.aliases)}

    def event(self) -> UnitUpserted:
        data = {k: v for k, v in self.__dict__.items() if k != "aliases"}
        return UnitUpserted(unit_id=data.pop("id"), **data)


def parse_directory(content: str, *, fmt: str) -> list[UnitRecord]:
    """Read a directory file (``yaml`` tree or flat ``csv``); a bad entry is a 422 problem naming it."""
    records = _parse_yaml(content) if fmt in ("yaml", "yml") else _parse_csv(content)
    seen: set[str] = set()
    for rec in records:
        if not isinstance(rec.name, str) or not rec.name.strip():
            raise Problem(422, f"单位 {rec.id}：名称（name）须是非空文本。", slug="unit-invalid")
        if rec.level not in LEVELS:
            raise Problem(422, f"Unit {rec.id}: level must be one of {', '.join(LEVELS)}.", slug="unit-invalid")
        if rec.category is not None and rec.category not in CATEGORIES:
            raise Problem(422, f"Unit {rec.id}: unknown category {rec.category}.", slug="unit-invalid")
        if rec.id in seen:
            raise Problem(422, f"Unit {rec.id} appears twice.", slug="unit-invalid")
        seen.add(rec.id)
    for rec in records:
        if rec.parent_id is not None and rec.parent_id not in seen:
            raise Problem(422, f"Unit {rec.id}: parent {rec.parent_id} is not in the file.", slug="unit-invalid")
    return records


def _parse_yaml(content: str) -> list[UnitRecord]:
    try:
        data = yaml.safe_load(content) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"第 {mark.line + 1} 行第 {mark.column + 1} 列" if mark is not None else "某处"
        raise Problem(422, f"单位名录不是有效的 YAML（{where}）：{getattr(exc, 'problem', None) or exc}。",
                      slug="unit-invalid") from None
    if not isinstance(data, dict):
        raise Problem(422, "单位名录须是以 regions 为顶层键的 YAML 映射。", slug="unit-invalid")
    out: list[UnitRecord] = []
    try:
        for region in data["regions"]:
            out.append(UnitRecord(id=str(region["id"]), name=region["name"], level="region", region=region["name"],
                                  aliases=tuple(region.get("aliases", ()))))
            for agency in region.get("agencies", []):
                out.append(_record(agency, "agency", region["id"], region["name"]))
                for section in agency.get("sections", []):
                    out.append(_record(section, "section", agency["id"], region["name"]))
    except (KeyError, TypeError, AttributeError) as exc:
        raise Problem(422, f"单位名录缺少字段或结构不对：{exc}。", slug="unit-invalid") from exc
    return out


def _record(entry: dict[str, Any], level: str, parent: str, region: str) -> UnitRecord:
    return UnitRecord(
        id=str(entry["id"]), name=entry["name"], level=level, parent_id=str(parent), region=region,
        category=entry.get("category"), principal_leader=entry.get("principal_leader"),
        leader_in_charge=entry.get("leader_in_charge"), key_section=bool(entry.get("key_section", False)),
        aliases=tuple(entry.get("aliases", ())),
    )


def _parse_csv(content: str) -> list[UnitRecord]:
    """Columns: id,name,level,parent_id,region,category,principal_leader,leader_in_charge,key_section,aliases
    (aliases separated by ``|``)."""
    out = []
    for n, row in enumerate(csv.DictReader(io.StringIO(content)), start=2):
        if not row.get("id") or not row.get("name") or not row.get("level"):
            raise Problem(422, f"CSV line {n}: id, name and level are required.", slug="unit-invalid")
        out.append(UnitRecord(
            id=row["id"].strip(), name=row["name"].strip(), level=row["level"].strip(),
            parent_id=(row.get("parent_id") or "").strip() or None, region=(row.get("region") or None),
            category=(row.get("category") or None), principal_leader=(row.get("principal_leader") or None),
            leader_in_charge=(row.get("leader_in_charge") or None),
            key_section=(row.get("key_section") or "").strip().lower() in ("1", "true", "yes", "是"),
            aliases=tuple(a for a in (row.get("aliases") or "").split("|") if a),
        ))
    return out


def read_directory_file(path: Path) -> list[UnitRecord]:
    fmt = path.suffix.lstrip(".").lower()
    return parse_directory(path.read_text(encoding="utf-8"), fmt=fmt)


async def upsert_units(session: AsyncSession, outbox, records: list[UnitRecord]) -> int:
    """Bulk upsert, and one ``UnitUpserted`` per entry (key = unit id, so compaction keeps the latest)."""
    if not records:
        return 0
    stmt = pg_insert(units)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["id"],
            set_={c: stmt.excluded[c] for c in (
                "name", "level", "parent_id", "region", "category", "principal_leader", "leader_in_charge",
                "key_section", "aliases", "active")} | {"updated_at": func.now()},
        ),
        [r.row() for r in records],
    )
    await outbox.publish_many(session, [r.event() for r in records])
    return len(records)


async def count_units(session: AsyncSession) -> int:
    return await session.scalar(select(func.count()).select_from(units)) or 0


# -- routing ----------------------------------------------------------------------------------------------


@lru_cache
def load_routing_rules(path: Path = ROUTING_RULES_FILE) -> tuple[tuple[str, frozenset[str]], ...]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return tuple((r["unit"], frozenset(r["any"])) for r in data["routing_rules"])


@dataclass
class Directory:
    """The directory in memory for one run: names, aliases and rule phrases in one automaton."""

    known: set[str]
    names: dict[str, tuple[str, int]]  # phrase → (unit id, level rank)
    automaton: Any
    rules: tuple[tuple[str, frozenset[str]], ...] = field(default=())
    # unit id → (parent id, parent's level, parent active): who may handle a complaint about a unit
    parents: dict[str, tuple[str | None, str | None, bool]] = field(default_factory=dict)

    @classmethod
    def build(cls, rows: list[dict[str, Any]], rules=()) -> Directory:
        names: dict[str, tuple[str, int]] = {}
        for row in rows:
            if not row.get("active", True) or row["level"] == "region":
                continue  # a region is too broad to be a responsible unit (事权单位)
            for phrase in (row["name"], *(row.get("aliases") or ())):
                if len(phrase) >= 2:
                    current = names.get(phrase)
                    rank = _LEVEL_RANK[row["level"]]
                    if current is None or rank < current[1]:
                        names[phrase] = (row["id"], rank)
        known = {row["id"] for row in rows}
        usable_rules = tuple((unit, phrases) for unit, phrases in rules if unit in known)
        every = set(names) | {p for _, phrases in usable_rules for p in phrases}
        by_id = {row["id"]: row for row in rows}
        parents = {}
        for row in rows:
            parent = by_id.get(row.get("parent_id") or "")
            parents[row["id"]] = (parent["id"], parent["level"], parent.get("active", True)) if parent else (
                None, None, False)
        return cls(known, names, build_automaton(every) if every else None, usable_rules, parents)

    def handler_for(self, accused: str) -> str | None:
        """Who handles a complaint about ``accused``: never the unit itself (R-TR: 谁被反映谁不办), but its
        supervising agency (主管部门) when it has one; None when only the supervision office is above it
        (its parent is a region), so the office keeps it."""
        parent, level, active = self.parents.get(accused, (None, None, False))
        return parent if parent and active and level in ("agency", "section") else None

    def scan(self, text: str) -> set[str]:
        return {phrase for _, phrase in self.automaton.iter(text)} if self.automaton is not None else set()

    def named_in(self, text: str, found: set[str] | None = None) -> str | None:
        found = self.scan(text) if found is None else found
        best = min(((-len(p), self.names[p][1], self.names[p][0]) for p in found if p in self.names), default=None)
        return best[2] if best else None

    def route(self, *, text: str, subject: str | None, pre_routed: str | None) -> tuple[str | None, str]:
        """(unit id, why): 'poster' | 'named' | 'rule' | 'unrouted'."""
        # Only a unit the directory knows: intake's pre-routed id comes from outside triage (a poster, a
        # hotline push) and flows into the daily sheet and its CSV; an unknown one is routed afresh.
        if pre_routed and pre_routed in self.known:
            return pre_routed, "poster"
        found = self.scan(f"{subject or ''} {text}")
        named = self.named_in(text, found)
        if named:
            return named, "named"
        in_text = found if not subject else self.scan(text)
        for unit_id, phrases in self.rules:
            if not phrases.isdisjoint(in_text):
                return unit_id, "rule"
        return None, "unrouted"


async def load_directory(session: AsyncSession) -> Directory:
    rows = [dict(r._mapping) for r in (await session.execute(select(units))).all()]
    return Directory.build(rows, load_routing_rules())
