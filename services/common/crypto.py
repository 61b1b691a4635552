"""AES-256-GCM sealing with key ids, so keys can be rotated while old ciphertexts stay readable."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM


@dataclass(frozen=True, slots=True)
class Sealed:
    kid: str
    nonce: bytes
    ciphertext: bytes

    def as_text(self) -> dict[str, str]:
        return {
            "kid": self.kid,
            "nonce": base64.b64encode(self.nonce).decode(),
            "ciphertext": base64.b64encode(self.ciphertext).decode(),
        }

    @classmethod
    def from_text(cls, kid: str, nonce: str, ciphertext: str) -> Sealed:
        return cls(kid, base64.b64decode(nonce), base64.b64decode(ciphertext))


class KeyRing:
    """Keys by id; new data is sealed with ``current``. Configured as ``kid1:base64key,kid2:base64key``
    with the first entry current, so rotation is: prepend a new key, re-seal at leisure, drop the old."""

    def __init__(self, keys: dict[str, bytes], current: str) -> None:
        if current not in keys:
            raise ValueError(f"current key id {current!r} is not in the key ring")
        for kid, key in keys.items():
            if len(key) != 32:
                raise ValueError(f"key {kid!r} must be 32 bytes (AES-256)")
        self._keys = {kid: AESGCM(key) for kid, key in keys.items()}
        self.current = current

    @classmethod
    def parse(cls, spec: str) -> KeyRing:
        entries = [part.strip() for part in spec.split(",") if part.strip()]
        if not entries:
            raise ValueError("the key ring is empty")
        keys: dict[str, bytes] = {}
        for entry in entries:
            kid, _, b64 = entry.partition(":")
            keys[kid] = base64.b64decode(b64)
        return cls(keys, current=entries[0].partition(":")[0])

    @staticmethod
    def generate_spec(kid: str = "k1") -> str:
        return f"{kid}:{base64.b64encode(os.urandom(32)).decode()}"

    def seal(self, plaintext: bytes, associated_data: bytes | None = None) -> Sealed:
        nonce = os.urandom(12)
        return Sealed(self.current, nonce, self._keys[self.current].encrypt(nonce, plaintext, associated_data))

    def open(self, sealed: Sealed, associated_data: bytes | None = None) -> bytes:
        try:
            aead = self._keys[sealed.kid]
        except KeyError as exc:
            raise ValueError(f"unknown key id {sealed.kid!r}") from exc
        return aead.decrypt(sealed.nonce, sealed.ciphertext, associated_data)
