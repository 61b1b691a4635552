"""Which registered key project a clue names (R-SU-5): one in-memory matcher over the register.

Every arriving clue is checked against every project's name, aliases and register number. Doing that in SQL
(``strpos`` per row) costs a query per clue on the hot path; instead the register (a few hundred rows) is
held as one Aho-Corasick automaton, like the unit directory, and rebuilt from the table when it is older
than ``refresh_seconds`` or when this process changed the register. Another replica's registration is seen
within that interval; nothing is lost meanwhile, since an officer can still link a clue by hand."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession

from .project_models import key_projects
from .taxonomy import build_automaton

# A register number shorter than this is too likely to occur in ordinary text (a room number, a year).
MIN_CODE_LENGTH = 4
MIN_NAME_LENGTH = 4


@dataclass(frozen=True)
class ProjectMatch:
    project_id: uuid.UUID
    code: str
    name: str
    matched: str  # the phrase of the clue that named it


@dataclass
class ProjectMatcher:
    phrases: dict[str, tuple[uuid.UUID, str, str]]  # phrase → (project id, code, name)
    automaton: Any

    @classmethod
    def build(cls, rows: list[dict[str, Any]]) -> ProjectMatcher:
        phrases: dict[str, tuple[uuid.UUID, str, str]] = {}
        for row in rows:
            target = (row["id"], row["code"], row["name"])
            if len(row["code"]) >= MIN_CODE_LENGTH:
                phrases[row["code"]] = target
            for phrase in (row["name"], *(row.get("aliases") or ())):
                if len(phrase) >= MIN_NAME_LENGTH:
                    phrases.setdefault(phrase, target)  # a name two projects share names the first registered
        return cls(phrases, build_automaton(phrases) if phrases else None)

    def match(self, text: str) -> list[ProjectMatch]:
        """Each project the text names once, by its longest phrase (the full name over an alias inside it)."""
        if self.automaton is None or not text:
            return []
        best: dict[uuid.UUID, ProjectMatch] = {}
        for _, phrase in self.automaton.iter(text):
            project_id, code, name = self.phrases[phrase]
            current = best.get(project_id)
            if current is None or len(phrase) > len(current.matched):
                best[project_id] = ProjectMatch(project_id, code, name, phrase)
        return sorted(best.values(), key=lambda m: m.code)


class MatcherCache:
    """The process's matcher, rebuilt when stale (one query per interval, never one per clue). Kept per
    database, so that two suites in one process (the tests' isolated suites) never share a register."""

    def __init__(self, refresh_seconds: float = 60.0) -> None:
        self.refresh_seconds = refresh_seconds
        self._loaded: dict[str, tuple[ProjectMatcher, float]] = {}

    def invalidate(self) -> None:
        self._loaded.clear()

    def invalidate_after_commit(self, session: AsyncSession) -> None:
        """Rebuild once the register's change is committed: a rebuild before it would cache the old register."""
        event.listen(session.sync_session, "after_commit", lambda _s: self.invalidate(), once=True)

    async def get(self, session: AsyncSession) -> ProjectMatcher:
        key = str(session.get_bind().engine.url)
        cached = self._loaded.get(key)
        if cached is not None and time.monotonic() - cached[1] <= self.refresh_seconds:
            return cached[0]
        rows = (await session.execute(select(key_projects.c.id, key_projects.c.code, key_projects.c.name,
                                             key_projects.c.aliases)
                                      .order_by(key_projects.c.registered_at))).all()
        matcher = ProjectMatcher.build([dict(r._mapping) for r in rows])
        self._loaded[key] = (matcher, time.monotonic())
        return matcher


# One per process: the register's routes invalidate it, the clue handler reads it.
matcher_cache = MatcherCache()
