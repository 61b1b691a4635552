"""Intake rules that need no infrastructure: receipts, attachments, field maps, statuses, sealing."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime

import orjson
import pytest
from cryptography.exceptions import InvalidTag
from PIL import Image

from services.common.auth import generate_keypair
from services.common.crypto import KeyRing, Sealed
from services.common.errors import Problem
from services.intake import catalog, receipts
from services.intake.attachments import FilesystemBlobStore, stage_upload
from services.intake.schemas import ReporterIdentity
from services.intake.service import format_tracking_number, map_hotline_fields, seal_reporter
from services.intake.settings import IntakeSettings

from ..media import jpeg_with_gps, tiny_wav


def test_receipt_codes_are_high_entropy_and_forgiving_to_type():
    codes = {receipts.new_receipt_code() for _ in range(200)}
    assert len(codes) == 200
    code = codes.pop()
    assert len(code) == 24 and code.count("-") == 4
    canonical = receipts.normalise(code)
    assert canonical is not None and len(canonical) == receipts.CODE_LENGTH
    assert receipts.normalise(code.lower().replace("-", " ")) == canonical
    assert receipts.normalise("too-short") is None
    assert receipts.normalise("U" * 20) is None  # U is not in the alphabet


def test_receipt_lookup_id_covers_only_a_keyed_prefix():
    canonical = receipts.normalise(receipts.new_receipt_code())
    other = canonical[:8] + ("0" * 12 if canonical[8:] != "0" * 12 else "1" * 12)
    assert receipts.lookup_id(b"k1", canonical) == receipts.lookup_id(b"k1", other)
    assert receipts.lookup_id(b"k1", canonical) != receipts.lookup_id(b"k2", canonical)
    assert canonical not in receipts.lookup_id(b"k1", canonical)


def test_slow_hash_verifies_only_the_whole_code():
    hasher = receipts.ReceiptHasher(time_cost=1, memory_kib=8192)
    canonical = receipts.normalise(receipts.new_receipt_code())
    stored = hasher.hash(canonical)
    assert stored.startswith("$argon2id$") and canonical not in stored
    assert hasher.verify(stored, canonical)
    assert not hasher.verify(stored, canonical[:-1] + ("0" if canonical[-1] != "0" else "1"))


def test_rate_limiter_refuses_past_the_budget_and_forgets_next_minute():
    limiter = receipts.RateLimiter(per_minute=3)
    assert [limiter.allow("a", now=0) for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("b", now=1)
    assert limiter.allow("a", now=61)


def test_image_metadata_and_gps_are_stripped(tmp_path):
    original = jpeg_with_gps()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825)
    staged = stage_upload(io.BytesIO(original), staging_dir=tmp_path, max_bytes=1 << 20)
    assert staged.media_type == "image/jpeg"
    cleaned = staged.path.read_bytes()
    image = Image.open(io.BytesIO(cleaned))
    assert not image.getexif() and b"ReporterPhone" not in cleaned
    assert image.size == (64, 48)


def test_attachment_type_is_judged_by_content_not_name(tmp_path):
    with pytest.raises(Problem) as refused:
        stage_upload(io.BytesIO(b"%PDF-1.7\n" + b"x" * 100), staging_dir=tmp_path, max_bytes=1 << 20)
    assert refused.value.status == 415
    audio = stage_upload(io.BytesIO(tiny_wav()), staging_dir=tmp_path, max_bytes=1 << 20)
    assert audio.media_type == "audio/x-wav"
    assert list(tmp_path.iterdir()) == [audio.path]  # the refused upload left nothing behind


def test_oversized_attachment_is_refused_while_streaming(tmp_path):
    with pytest.raises(Problem) as refused:
        stage_upload(io.BytesIO(tiny_wav() * 10), staging_dir=tmp_path, max_bytes=1000)
    assert refused.value.status == 413
    assert list(tmp_path.iterdir()) == []


def test_blob_store_keeps_identical_content_once(tmp_path):
    import asyncio

    store = FilesystemBlobStore(tmp_path / "blobs")
    first = stage_upload(io.BytesIO(tiny_wav()), staging_dir=tmp_path / "s", max_bytes=1 << 20)
    second = stage_upload(io.BytesIO(tiny_wav()), staging_dir=tmp_path / "s", max_bytes=1 << 20)
    asyncio.run(store.put(first))
    asyncio.run(store.put(second))
    assert first.sha256 == second.sha256
    assert store.path_of(first.sha256).read_bytes() == tiny_wav()
    assert list((tmp_path / "s").iterdir()) == []


def test_each_line_speaks_its_own_field_names():
    mapped = map_hotline_fields("12345", {"gdbh": "GD-1", "ldnr": "窗口推诿", "sfsq": True, "lxdh": "139"})
    assert mapped == {"external_id": "GD-1", "text": "窗口推诿", "enterprise_related": True,
                      "reporter": {"phone": "139"}}
    assert map_hotline_fields("12388", {"external_id": "A", "text": "t"}) == {"external_id": "A", "text": "t"}
    assert set(catalog.hotline_field_maps()) == {"12388", "12345", "12380"}


def test_status_transitions_never_go_back():
    assert "received" in catalog.sources_of("accepted")
    assert "concluded" not in catalog.sources_of("accepted")
    assert catalog.sources_of("closed") == sorted(set(catalog.STATUS_LABELS) - {"closed"})
    assert catalog.TRANSITIONS["closed"] == frozenset()


def test_tracking_number_uses_the_shanghai_date():
    late_utc = datetime(2026, 11, 21, 17, 30, tzinfo=UTC)  # already 22 Nov in Shanghai
    assert format_tracking_number(late_utc, 42) == "ZF-20261122-000042"


def test_sealed_identity_is_bound_to_its_clue_and_contact_holds_no_name():
    settings = IntakeSettings(identity_keyring=KeyRing.generate_spec("i1"),
                              contact_keyring=KeyRing.generate_spec("c1"), kafka_enabled=False)
    clue_id = uuid.uuid4()
    reporter = ReporterIdentity(name="张三", phone="13900000000", id_number="110101199001011234")
    row, contact = seal_reporter(settings, clue_id, reporter)
    assert "张三".encode() not in row["ciphertext"]
    sealed = Sealed(row["kid"], row["nonce"], row["ciphertext"])
    assert orjson.loads(settings.identity_ring.open(sealed, str(clue_id).encode()))["name"] == "张三"
    with pytest.raises(InvalidTag):
        settings.identity_ring.open(sealed, str(uuid.uuid4()).encode())
    opened = settings.contact_ring.open(Sealed.from_text(contact.kid, contact.nonce, contact.ciphertext),
                                        str(clue_id).encode())
    assert orjson.loads(opened) == {"phone": "13900000000", "email": None}
    assert "张三" not in repr(reporter) and "1390" not in repr(reporter)


def test_the_clue_received_event_satisfies_its_contract():
    from services.common.contracts.intake import ClueReceived
    from services.intake.service import NewClue, _event, _Prepared

    settings = IntakeSettings(identity_keyring=KeyRing.generate_spec("i1"),
                              contact_keyring=KeyRing.generate_spec("c1"), kafka_enabled=False)
    clue_id = uuid.uuid4()
    _, contact = seal_reporter(settings, clue_id, ReporterIdentity(phone="139"))
    item = NewClue(channel="qr_code", text="t", recorded_by="public", poster_code="P1", unit_id="U1",
                   enterprise_related=True)
    event = _event(_Prepared(item, clue_id, "ZF-20261121-000001", identity={"x": 1}, contact=contact),
                   datetime.now(UTC))
    envelope = event.to_cloudevent()
    parsed = ClueReceived.model_validate(envelope.data)
    assert parsed == ClueReceived.model_validate(event.model_dump())
    assert parsed.anonymous is False and parsed.reporter_contact == contact and parsed.attachment_count == 0


def test_a_streamed_body_is_cut_off_at_the_limit():
    import asyncio

    from services.intake.api import _limited

    async def body():
        for _ in range(10):
            yield b"x" * 100

    async def read(limit: int) -> int:
        return sum([len(chunk) async for chunk in _limited(body(), limit)])

    assert asyncio.run(read(1000)) == 1000
    with pytest.raises(Problem) as refused:
        asyncio.run(read(999))
    assert refused.value.status == 413


def test_production_needs_key_rings_and_reads_them_from_files(tmp_path):
    ring = tmp_path / "ring"
    ring.write_text(KeyRing.generate_spec("k9"))
    production = {"environment": "production", "database_url": "postgresql+asyncpg://u:p@db/zuofeng",
                  "internal_token_public_key": generate_keypair()[1], "open311_api_keys": ["client-a"]}
    settings = IntakeSettings(**production, identity_keyring_file=ring, contact_keyring_file=ring,
                              receipt_lookup_key="secret")
    assert settings.identity_ring.current == "k9" and settings.contact_ring.current == "k9"
    with pytest.raises(ValueError):
        IntakeSettings(**production, receipt_lookup_key="secret")
    with pytest.raises(ValueError):
        IntakeSettings(**production, identity_keyring_file=ring, contact_keyring_file=ring)
