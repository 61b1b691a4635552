"""ZUOFENG_ENV=production refuses the development material: `zuofeng dev-keys` keys and key rings, the
development staff issuer, the receipt lookup constant, and an Open311 key list that admits any key."""

from __future__ import annotations

import argparse
from pathlib import Path

import jwt
import pytest
from pydantic import ValidationError

from gateway.settings import GatewaySettings
from services.common.auth import (
    Principal,
    generate_keypair,
    mint_internal_token,
    verify_internal_token,
)
from services.common.cli import cmd_dev_keys
from services.common.crypto import KeyRing
from services.intake.settings import DEV_RECEIPT_LOOKUP_KEY, IntakeSettings
from services.notification.settings import NotificationSettings

PRIVATE, PUBLIC = generate_keypair()
DB = "postgresql+asyncpg://svc:s3cret@db/zuofeng"


@pytest.fixture(scope="module")
def dev_keys(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("keys")
    assert cmd_dev_keys(argparse.Namespace(dir=str(directory))) == 0
    return directory


def gateway(**values) -> GatewaySettings:
    base = dict(environment="production", database_url=DB, internal_token_public_key=PUBLIC,
                internal_token_private_key=PRIVATE, staff_jwt_public_key=PUBLIC,
                staff_jwt_issuer="https://idp.city.example", trusted_proxies=["10.0.0.0/8"],
                redis_url="redis://127.0.0.1:56379/0")
    return GatewaySettings(**{**base, **values})


def intake(**values) -> IntakeSettings:
    ring = KeyRing.generate_spec("k2026")
    base = dict(environment="production", database_url=DB, internal_token_public_key=PUBLIC,
                identity_keyring=ring, contact_keyring=ring, receipt_lookup_key="r" * 40,
                open311_api_keys=["client-a"])
    return IntakeSettings(**{**base, **values})


def test_dev_keys_still_work_in_development(dev_keys):
    private = (dev_keys / "internal.pem").read_text()
    public = (dev_keys / "internal.pub.pem").read_text()
    token = mint_internal_token(Principal(kind="public", subject="anonymous"), private)
    assert verify_internal_token(token, public).subject == "anonymous"
    staff = jwt.encode({"sub": "x"}, (dev_keys / "staff-idp.pem").read_text(), algorithm="EdDSA")
    assert jwt.decode(staff, (dev_keys / "staff-idp.pub.pem").read_text(), algorithms=["EdDSA"]) == {"sub": "x"}
    assert GatewaySettings(internal_token_private_key_file=dev_keys / "internal.pem",
                           staff_jwt_public_key_file=dev_keys / "staff-idp.pub.pem").staff_jwt_public_key


def test_a_production_gateway_refuses_the_dev_issuer_and_dev_keys(dev_keys):
    assert gateway()
    with pytest.raises(ValidationError, match="development issuer"):
        gateway(staff_jwt_issuer="zuofeng-dev-idp")
    with pytest.raises(ValidationError, match="dev-keys"):
        gateway(staff_jwt_public_key="", staff_jwt_public_key_file=dev_keys / "staff-idp.pub.pem")
    with pytest.raises(ValidationError, match="dev-keys"):
        gateway(internal_token_private_key=(dev_keys / "internal.pem").read_text())
    with pytest.raises(ValidationError, match="dev-keys"):
        NotificationSettings(environment="production", database_url=DB, contact_keyring=KeyRing.generate_spec(),
                             internal_token_public_key_file=dev_keys / "internal.pub.pem")


def test_production_intake_refuses_the_receipt_constant_dev_rings_and_an_open_open311(dev_keys):
    assert intake()
    with pytest.raises(ValidationError, match="INTAKE_RECEIPT_LOOKUP_KEY"):
        intake(receipt_lookup_key=DEV_RECEIPT_LOOKUP_KEY)
    with pytest.raises(ValidationError, match="IDENTITY_KEYRING holds development keys"):
        intake(identity_keyring=(dev_keys / "identity-keyring").read_text())
    with pytest.raises(ValidationError, match="INTAKE_OPEN311_API_KEYS"):
        intake(open311_api_keys=[])
    with pytest.raises(ValidationError, match="INTAKE_OPEN311_API_KEYS"):
        intake(open311_api_keys=[" "])
    with pytest.raises(ValidationError, match="CONTACT_KEYRING holds development keys"):
        NotificationSettings(environment="production", database_url=DB, internal_token_public_key=PUBLIC,
                             contact_keyring=(dev_keys / "contact-keyring").read_text())
