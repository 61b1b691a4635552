"""Intake under hostile or careless callers on the real suite (issue 13): who may push to a hotline feed,
text PostgreSQL cannot store, a batch with bad items, bodies too large."""

from __future__ import annotations

import secrets

from sqlalchemy import func, select

from services.common.auth import ROLES
from services.intake.models import clues


def ticket(**overrides) -> dict:
    return {"external_id": f"T-{secrets.token_hex(6)}", "text": "办事窗口推诿扯皮，群众反复跑腿。", **overrides}


async def count_clues(suite, *conditions) -> int:
    async with suite.apps["intake"].state.sessions() as session:
        return await session.scalar(select(func.count()).select_from(clues).where(*conditions))


# ---- item 7: hotline feeds are for the line's key (and triage officers) --------------------------------


async def test_feeds_refuse_every_staff_role_but_the_triage_officer(suite, ids):
    for role in ROLES:
        for path, body in (("/api/v1/intake/feeds/12345/reports", ticket()),
                           ("/api/v1/intake/feeds/12345/reports:batch", {"reports": [ticket()]})):
            headers = ids.as_staff(role, unit="U-FEED" if role == "unit_handler" else None)
            response = await suite.intake.post(path, json=body, headers=headers)
            expected = 403 if role != "triage_officer" else (201 if path.endswith("reports") else 200)
            assert response.status_code == expected, (role, path, response.text)
            if expected == 403:
                assert response.headers["content-type"] == "application/problem+json"
                assert "热线" in response.json()["detail"]
    # A triage officer who is also a unit handler is scoped, not trusted: refused too.
    mixed = await suite.intake.post("/api/v1/intake/feeds/12345/reports", json=ticket(),
                                    headers=ids.as_staff("triage_officer", "unit_handler", unit="U-FEED"))
    assert mixed.status_code == 403


async def test_a_unit_handler_repushing_another_units_ticket_learns_nothing(suite, ids):
    original = ticket(unit_id="U-OWNER")
    first = await suite.intake.post("/api/v1/intake/feeds/12345/reports", json=original,
                                    headers=ids.as_hotline("12345"))
    assert first.status_code == 201
    clue = first.json()
    for path, body in (("/api/v1/intake/feeds/12345/reports", original),
                       ("/api/v1/intake/feeds/12345/reports:batch", {"reports": [original]})):
        probe = await suite.intake.post(path, json=body, headers=ids.as_staff("unit_handler", unit="U-OTHER"))
        assert probe.status_code == 403
        assert clue["id"] not in probe.text and clue["tracking_number"] not in probe.text
    # Another line's key cannot ask this line either; the owning line gets its duplicate answer.
    other_line = await suite.intake.post("/api/v1/intake/feeds/12345/reports", json=original,
                                         headers=ids.as_hotline("12388"))
    assert other_line.status_code == 403 and clue["id"] not in other_line.text
    again = await suite.intake.post("/api/v1/intake/feeds/12345/reports", json=original,
                                    headers=ids.as_hotline("12345"))
    assert again.status_code == 200 and again.json()["id"] == clue["id"]
    assert await count_clues(suite, clues.c.external_id == original["external_id"]) == 1
