"""The shared kernel's rules, without infrastructure."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import jwt
import pytest
from cryptography.exceptions import InvalidTag
from fastapi import FastAPI
import httpx
from pydantic import BaseModel

from services.common.auth import Principal, generate_keypair, mint_internal_token, verify_internal_token
from services.common.contracts import REGISTRY, SCHEMA_DIR, json_schemas
from services.common.contracts.intake import ClueReceived
from services.common.crypto import KeyRing
from services.common.errors import Problem, install_problem_handlers
from services.common.events import CloudEvent
from services.common.tracing import child_traceparent, parse_traceparent
from services.intake.service import format_tracking_number

from ..factories import clue_received

IDENTITY_WORDS = ("reporter", "reporter_name", "phone", "mobile", "id_number", "id_card", "email", "identity")


def test_exported_schemas_match_the_contracts():
    """Producers and consumers share one model; the committed JSON Schemas must not drift from it."""
    for event_type, schema in json_schemas().items():
        path = SCHEMA_DIR / f"{event_type}.schema.json"
        assert path.exists(), f"run `make schemas`: {path.name} is missing"
        assert json.loads(path.read_text(encoding="utf-8")) == schema, f"run `make schemas`: {path.name} drifted"


def test_no_contract_carries_reporter_identity_in_clear():
    for event_type, cls in REGISTRY.items():
        for field_name in cls.model_fields:
            assert field_name not in IDENTITY_WORDS, f"{event_type}.{field_name} would leak identity"


def a_clue() -> ClueReceived:
    return clue_received(clue_id="0190d0c8-0000-7000-8000-000000000001", tracking_number="ZF-20261121-000001",
                         received_at=datetime(2026, 11, 21, 8, 0, tzinfo=UTC), text="窗口人员推诿")


def test_event_round_trips_through_the_cloudevent_envelope():
    clue = a_clue()
    event = CloudEvent.from_bytes(clue.to_cloudevent(traceparent=child_traceparent(None)).to_bytes())
    assert event.type == "zuofeng.intake.clue-received.v1"
    assert event.subject == str(clue.clue_id)
    assert event.specversion == "1.0" and event.source == "/zuofeng/intake"
    assert ClueReceived.from_cloudevent(event) == clue
    assert ClueReceived.topic("t1.") == "t1.zuofeng.intake.clue-received.v1"


def test_the_outbox_envelope_is_the_same_cloudevent_as_the_model_path():
    clue = a_clue()
    tp = child_traceparent(None)
    fast = CloudEvent.from_bytes(clue.envelope_bytes(traceparent=tp))
    slow = clue.to_cloudevent(traceparent=tp)
    assert fast.model_dump(exclude={"id", "time"}) == slow.model_dump(exclude={"id", "time"})
    assert ClueReceived.from_cloudevent(fast) == clue
    assert fast.time.tzinfo is not None
    assert CloudEvent.from_bytes(clue.envelope_bytes()).traceparent is None


def test_a_partly_failed_relay_send_keeps_only_what_must_be_republished_in_order():
    from types import SimpleNamespace

    from aiokafka.errors import NotLeaderForPartitionError

    from services.common.outbox import settled

    rows = [SimpleNamespace(seq=n, topic="t", key=k) for n, k in enumerate("abacb")]
    lost = NotLeaderForPartitionError()
    done, failure = settled(rows, ["ok", "ok", lost, "ok", "ok"])
    # "a" before the failure was published; the failed "a" and nothing after it for "a" may go;
    # "b" and "c" were acknowledged and are not published twice.
    assert [r.seq for r in done] == [0, 1, 3, 4]
    assert failure is lost
    assert settled(rows, ["ok"] * 5) == (rows, None)
    done, _ = settled(rows, [lost, "ok", "ok", "ok", "ok"])
    assert [r.seq for r in done] == [1, 3, 4]


def test_traceparent_continues_the_parent_trace_and_rejects_garbage():
    parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    child = child_traceparent(parent)
    assert parse_traceparent(child)[0] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert parse_traceparent(child)[1] != "00f067aa0ba902b7"
    assert parse_traceparent("00-" + "0" * 32 + "-00f067aa0ba902b7-01") is None
    assert parse_traceparent("garbage") is None
    assert parse_traceparent(child_traceparent("garbage")) is not None


def test_keyring_rotation_keeps_old_ciphertexts_readable():
    k1 = KeyRing.generate_spec("k1")
    old = KeyRing.parse(k1)
    sealed = old.seal("张三 13800000000".encode(), b"clue-1")
    assert sealed.kid == "k1" and "张三".encode() not in sealed.ciphertext
    rotated = KeyRing.parse(KeyRing.generate_spec("k2") + "," + k1)
    assert rotated.current == "k2"
    assert rotated.open(sealed, b"clue-1") == "张三 13800000000".encode()
    assert rotated.seal(b"x").kid == "k2"
    with pytest.raises(InvalidTag):
        rotated.open(sealed, b"clue-2")  # bound to its record: a ciphertext moved to another clue fails


def test_internal_token_round_trip_expiry_and_forgery():
    private, public = generate_keypair()
    other_private, _ = generate_keypair()
    who = Principal(kind="staff", subject="u1", roles=frozenset({"unit_handler"}), unit_id="unit-7")
    assert verify_internal_token(mint_internal_token(who, private), public) == who
    with pytest.raises(Problem) as forged:
        verify_internal_token(mint_internal_token(who, other_private), public)
    assert forged.value.status == 401
    with pytest.raises(Problem) as late:
        verify_internal_token(mint_internal_token(who, private, ttl_seconds=-60), public)
    assert late.value.slug == "identity-expired"
    # The key id is a claim anyone can write: naming the trusted key does not make a stranger's signature good.
    kid = jwt.get_unverified_header(mint_internal_token(who, private))["kid"]
    claims = {**who.claims(), "iss": "zuofeng-gateway", "aud": "zuofeng-services", "iat": 1,
              "exp": int(time.time()) + 60}
    impostor = jwt.encode(claims, other_private, algorithm="EdDSA", headers={"kid": kid})
    with pytest.raises(Problem) as impersonated:
        verify_internal_token(impostor, public)
    assert impersonated.value.slug == "identity-invalid"


def test_a_verified_token_is_remembered_only_until_it_expires():
    from services.common.auth import _VerifiedTokens

    private, public = generate_keypair()
    who = Principal(kind="staff", subject="u2", roles=frozenset({"auditor"}))
    token = mint_internal_token(who, private)
    assert verify_internal_token(token, public) is verify_internal_token(token, public)  # the second from memory
    _, stranger = generate_keypair()
    with pytest.raises(Problem):  # remembered for its own key bundle only
        verify_internal_token(token, stranger)
    memory = _VerifiedTokens(capacity=2)
    memory.put("late", who, time.time() - 1)
    memory.put("a", who, time.time() + 60)
    assert memory.get("late") is None and memory.get("a") is who  # expired: verified afresh
    memory.put("b", who, time.time() + 60)
    memory.put("c", who, time.time() + 60)
    assert memory.get("a") is None and memory.get("b") is memory.get("c") is who  # bounded: the oldest went


def test_services_trust_old_and_new_gateway_keys_while_the_key_rotates():
    old_private, old_public = generate_keypair()
    new_private, new_public = generate_keypair()
    who = Principal(kind="hotline", subject="hotline-12345", line="12345")
    rotating = old_public + new_public
    assert verify_internal_token(mint_internal_token(who, old_private), rotating) == who
    assert verify_internal_token(mint_internal_token(who, new_private), rotating) == who
    with pytest.raises(Problem) as dropped:  # the old key, once removed, is refused
        verify_internal_token(mint_internal_token(who, old_private), new_public)
    assert dropped.value.status == 401


class Body(BaseModel):
    phone: int


async def test_errors_are_problem_json_and_never_echo_input():
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/x")
    async def x(body: Body) -> dict:
        raise Problem(409, "Already closed.", slug="case-closed")

    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
    conflict = await client.post("/x", json={"phone": 1})
    assert conflict.status_code == 409
    assert conflict.headers["content-type"] == "application/problem+json"
    assert conflict.json()["type"] == "https://zuofeng.dev/problems/case-closed"
    invalid = await client.post("/x", json={"phone": "13800000000x"})
    assert invalid.status_code == 422 and invalid.json()["errors"][0]["loc"] == ["body", "phone"]
    assert "13800000000x" not in invalid.text
    missing = await client.get("/nope")
    assert missing.status_code == 404 and missing.json()["status"] == 404


def test_tracking_number_uses_the_city_date():
    # 23:30 UTC on the 20th is already the 21st in Shanghai.
    assert format_tracking_number(datetime(2026, 11, 20, 23, 30, tzinfo=UTC), 123) == "ZF-20261121-000123"


def test_working_days_skip_weekends_and_holidays_and_count_makeup_days():
    from datetime import date

    from services.common.calendar import default_calendar

    cal = default_calendar()
    assert cal.add_working_days(date(2026, 11, 20), 1) == date(2026, 11, 23)  # Friday → Monday
    assert cal.add_working_days(date(2026, 9, 30), 1) == date(2026, 10, 8)  # over National Day
    assert cal.is_working_day(date(2026, 10, 10))  # a Saturday worked instead (调休)
    assert cal.working_days_between(date(2026, 11, 20), date(2026, 11, 27)) == 5
    assert cal.working_days_between(date(2026, 11, 27), date(2026, 11, 20)) == -5


def test_audit_mac_covers_every_column_and_the_previous_link_and_needs_the_key():
    """Each link covers every stored column and the link before it, keyed (the database round trip and the
    append-only tables are integration tests: tests/integration/test_security_audit.py)."""
    import base64
    import os
    from datetime import UTC, datetime

    import pytest

    from services.common.audit import DEV_AUDIT_KEYRING, GENESIS, AuditKeys, _entry_message

    at = datetime(2026, 11, 21, tzinfo=UTC)
    keys = AuditKeys.parse(DEV_AUDIT_KEYRING)
    fields = dict(chain="intake.audit_log", seq=1, at=at, actor="u1", actor_roles="investigator", action="override",
                  entity_type="clue", entity_id="c1", details={"reason": "wrong unit"}, prev_hash=GENESIS, key_id="dev")
    first = keys.mac("dev", _entry_message(**fields))
    for name, other in (("seq", 2), ("actor_roles", "admin"), ("prev_hash", first), ("chain", "triage.audit_log"),
                        ("details", {"reason": "other"}), ("key_id", "k2")):
        assert keys.mac("dev", _entry_message(**{**fields, name: other})) != first, name
    other_key = AuditKeys.parse(f"dev:{base64.b64encode(os.urandom(32)).decode()}")
    assert other_key.mac("dev", _entry_message(**fields)) != first
    with pytest.raises(ValueError):
        AuditKeys.parse("short:" + base64.b64encode(b"too short").decode())


def test_a_production_service_needs_its_own_audit_keys():
    import base64
    import os

    import pytest

    from services.common.audit import DEV_AUDIT_KEYRING
    from services.common.auth import generate_keypair
    from services.common.settings import ServiceSettings

    production = dict(environment="production", internal_token_public_key=generate_keypair()[1],
                      database_url="postgresql+asyncpg://svc:secret@db/zuofeng", kafka_enabled=False)
    for keyring in ("", DEV_AUDIT_KEYRING):
        with pytest.raises(ValueError, match="AUDIT_KEYRING"):
            ServiceSettings(**production, audit_keyring=keyring).audit_keys  # noqa: B018
    key = f"k1:{base64.b64encode(os.urandom(32)).decode()}"
    assert ServiceSettings(**production, audit_keyring=key).audit_keys.current == "k1"


async def test_a_raw_database_error_is_logged_without_its_message(caplog):
    """A raw asyncpg error (COPY, LISTEN) quotes values in its message: answered as a problem, and logged
    by class, SQLSTATE and stack only, never re-raised to the server that would log it whole."""
    import logging

    import asyncpg
    import httpx
    from fastapi import FastAPI

    from services.common.errors import install_problem_handlers

    app = FastAPI()
    install_problem_handlers(app)
    place = "和平路" + "十八号"  # as data would be: not in the source line the stack shows

    @app.get("/boom")
    async def boom():
        raise asyncpg.exceptions.InvalidTextRepresentationError(f'invalid input syntax for type uuid: "{place}"')

    caplog.set_level(logging.INFO)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=True),
                                 base_url="http://t") as client:
        response = await client.get("/boom")
    assert response.status_code == 500 and response.headers["content-type"] == "application/problem+json"
    [logged] = [r for r in caplog.records if r.getMessage() == "database error"]
    assert logged.sqlstate == "22P02" and logged.error == "InvalidTextRepresentationError"
    assert "和平路十八号" not in caplog.text and "和平路十八号" not in str(vars(logged))
