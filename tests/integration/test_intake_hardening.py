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


# ---- item 11: text PostgreSQL cannot store is a clear 422; a batch keeps its valid items ------------

UNSTORABLE = ("窗口\x00推诿", "窗口\ud800推诿")  # a NUL byte; a lone surrogate (valid JSON, not UTF-8)


def raw_json(body) -> bytes:
    """JSON as a careless client sends it: ``\\u0000`` and lone ``\\ud800`` escapes kept as escapes."""
    import json

    return json.dumps(body, ensure_ascii=True).encode()


def is_clear_problem(response, status: int = 422) -> bool:
    return (response.status_code == status and response.headers["content-type"] == "application/problem+json"
            and "无法保存" in response.text)


async def test_unstorable_text_in_a_hotline_ticket_is_a_422(suite, ids):
    for bad in UNSTORABLE:
        for field in ("text", "subject", "external_id", "place"):
            body = ticket(**{field: bad})
            response = await suite.intake.post("/api/v1/intake/feeds/12345/reports", content=raw_json(body),
                                               headers={**ids.as_hotline("12345"), "content-type": "application/json"})
            assert is_clear_problem(response), (field, response.status_code, response.text)
            assert response.json()["errors"][0]["loc"] == ["body", field]
        named = ticket(reporter={"name": bad, "phone": "13800000000"})
        response = await suite.intake.post("/api/v1/intake/feeds/12345/reports", content=raw_json(named),
                                           headers={**ids.as_hotline("12345"), "content-type": "application/json"})
        assert is_clear_problem(response), response.text


async def test_a_batch_with_unstorable_items_keeps_every_valid_one(suite, ids):
    good = [ticket(), ticket()]
    items = [good[0], ticket(text=UNSTORABLE[0]), ticket(subject=UNSTORABLE[1]), good[1],
             ticket(reporter={"name": UNSTORABLE[0]}), {**ticket(), "\ud800": "an unknown field"}]
    response = await suite.intake.post("/api/v1/intake/feeds/12345/reports:batch", content=raw_json({"reports": items}),
                                       headers={**ids.as_hotline("12345"), "content-type": "application/json"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert [r["outcome"] for r in body["results"]] == ["created", "rejected", "rejected", "created", "rejected",
                                                       "rejected"]
    assert (body["created"], body["rejected"]) == (2, 4)
    assert body["results"][5]["errors"][0]["loc"][:3] == ["body", "reports", 5]
    assert body["results"][1]["errors"][0]["loc"] == ["body", "reports", 1, "text"]
    assert body["results"][1]["errors"][0]["type"] == "unstorable_text"
    assert body["results"][1]["errors"][0]["msg"].startswith("含有无法保存的字符")
    for item in good:
        assert await count_clues(suite, clues.c.external_id == item["external_id"]) == 1
    for item in items[1:3] + items[4:]:
        assert await count_clues(suite, clues.c.external_id == item["external_id"]) == 0


async def test_unstorable_text_from_staff_and_the_qr_form_is_a_422(suite, ids):
    from .test_intake_qr import a_poster, counts

    staff = await suite.intake.post("/api/v1/intake/reports", content=raw_json(
        {"channel": "petition", "text": UNSTORABLE[0]}), headers={
        **ids.as_staff("triage_officer"), "content-type": "application/json"})
    assert is_clear_problem(staff), staff.text
    unknown_key = await suite.intake.post("/api/v1/intake/reports", content=raw_json(
        {"channel": "petition", "text": "窗口推诿", "\ud800": 1}), headers={
        **ids.as_staff("triage_officer"), "content-type": "application/json"})
    assert is_clear_problem(unknown_key), unknown_key.text
    poster = await a_poster(suite, ids)
    before = await counts(suite)
    qr = await suite.intake.post(f"/api/v1/intake/qr/{poster['code']}/reports", headers=ids.as_public(),
                                 data={"text": UNSTORABLE[0], "subject": "窗口"})
    assert is_clear_problem(qr), qr.text
    assert await counts(suite) == before
    reveal = await suite.intake.post(f"/api/v1/intake/clues/{staff.json().get('id', poster['code'])}/identity:reveal",
                                     content=raw_json({"reason": "立案审查需要\x00核实"}), headers={
        **ids.as_staff("investigator"), "content-type": "application/json"})
    assert reveal.status_code == 422
    new_poster = await suite.intake.post("/api/v1/intake/posters", content=raw_json(
        {"unit_id": "U\x00X", "place": "窗口"}), headers={
        **ids.as_staff("triage_officer"), "content-type": "application/json"})
    assert is_clear_problem(new_poster), new_poster.text


async def test_unstorable_path_and_filter_values_are_4xx(suite, ids):
    staff = ids.as_staff("triage_officer")
    listed = await suite.intake.get("/api/v1/intake/posters", params={"cursor": "a\x00b"}, headers=staff)
    assert is_clear_problem(listed), listed.text
    for path in ("/api/v1/intake/posters/a%00b", "/api/v1/intake/posters/a%00b/qr.svg"):
        response = await suite.intake.get(path, headers=staff)
        assert response.status_code == 404, (path, response.text)
    patched = await suite.intake.patch("/api/v1/intake/posters/a%00b", json={"title": "x"}, headers=staff)
    assert patched.status_code == 404
    qr = await suite.intake.post("/api/v1/intake/qr/a%00b/reports", headers=ids.as_public(), data={"text": "x"})
    assert qr.status_code == 404
    page = await suite.intake.get("/qr/a%00b", headers={**ids.as_public(), "accept": "text/html"})
    assert page.status_code == 404
    receipt = await suite.intake.get("/api/v1/intake/receipts/a%00b", headers=ids.as_public())
    assert receipt.status_code == 404


# ---- item 10: per-route body limits, 413 before the body is buffered --------------------------------


def is_413(response) -> bool:
    return (response.status_code == 413 and response.headers["content-type"] == "application/problem+json"
            and response.json()["type"].endswith("/body-too-large") and "请求内容过大" in response.json()["detail"])


async def test_an_oversized_json_body_is_a_413_whatever_the_route(suite, ids):
    settings = suite.apps["intake"].state.settings
    big = "窗" * (settings.body_max_bytes // 3 + 10)  # over the limit in UTF-8
    staff = await suite.intake.post("/api/v1/intake/reports", json={"channel": "petition", "text": big},
                                    headers=ids.as_staff("triage_officer"))
    assert is_413(staff), staff.text
    assert staff.json()["max_bytes"] == settings.body_max_bytes
    feed = await suite.intake.post("/api/v1/intake/feeds/12345/reports", json=ticket(text=big),
                                   headers=ids.as_hotline("12345"))
    assert is_413(feed), feed.text
    poster = await suite.intake.post("/api/v1/intake/posters", json={"unit_id": "U", "place": big},
                                     headers=ids.as_staff("triage_officer"))
    assert is_413(poster)
    # A batch has a limit of its own: the same bytes spread over tickets are accepted.
    batch = [ticket(text=big[:5000]) for _ in range(len(big) // 5000 + 1)]
    accepted = await suite.intake.post("/api/v1/intake/feeds/12345/reports:batch", json={"reports": batch},
                                       headers=ids.as_hotline("12345"))
    assert accepted.status_code == 200 and accepted.json()["created"] == len(batch), accepted.text


async def test_a_streamed_body_is_cut_off_at_the_limit_without_being_read(suite, ids):
    """No Content-Length (as the gateway forwards): the service stops reading once the limit is passed."""
    settings = suite.apps["intake"].state.settings
    chunk = b" " * (64 * 1024)
    sent = 0

    async def endless_json():
        nonlocal sent
        yield b'{"channel": "petition", "text": "'
        for _ in range(1000):  # 64 MiB if it were all read
            sent += 1
            yield chunk

    response = await suite.intake.post("/api/v1/intake/reports", content=endless_json(), headers={
        **ids.as_staff("triage_officer"), "content-type": "application/json"})
    assert is_413(response), response.text
    assert sent <= settings.body_max_bytes // len(chunk) + 2
    declared = await suite.intake.post("/api/v1/intake/reports", content=b"{}", headers={
        **ids.as_staff("triage_officer"), "content-type": "application/json",
        "content-length": str(settings.body_max_bytes + 1)})
    assert is_413(declared)


async def test_the_qr_form_keeps_room_for_its_attachments_but_no_more(suite, ids):
    from ..media import tiny_wav
    from .test_intake_qr import a_poster

    poster = await a_poster(suite, ids)
    url = f"/api/v1/intake/qr/{poster['code']}/reports"
    settings = suite.apps["intake"].state.settings
    recording = tiny_wav(noise=True) + b"\0" * (settings.body_max_bytes * 2)  # bigger than a JSON body may be
    ok = await suite.intake.post(url, headers=ids.as_public(), data={"text": "窗口推诿"},
                                 files=[("attachments", ("a.wav", recording, "audio/wav"))])
    assert ok.status_code == 201, ok.text
    over = settings.attachment_max_count * settings.attachment_max_bytes + (1 << 20) + 1
    declared = await suite.intake.post(url, content=b"--x--", headers={
        **ids.as_public(), "content-type": "multipart/form-data; boundary=x", "content-length": str(over)})
    assert is_413(declared)
