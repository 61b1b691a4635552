"""匿名回执码: high-entropy receipt codes, shown once, stored only as a slow hash behind a keyed index.

A code is 20 Crockford base32 characters (100 random bits), shown as ``XXXX-XXXX-XXXX-XXXX-XXXX``. The
table keeps (a) an HMAC of the first 8 characters, which finds the candidate row through an index without
revealing the code, and (b) an Argon2id hash of the whole code, checked on that candidate only. A database
leak gives neither the codes nor a fast way to test guesses; the HMAC key lives outside the database.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U
CODE_LENGTH = 20
PREFIX_LENGTH = 8
_NORMALISE = str.maketrans({"O": "0", "I": "1", "L": "1", "-": None, " ": None})


def new_receipt_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, CODE_LENGTH, 4))


def normalise(code: str) -> str | None:
    """The canonical 20 characters, or None when the input cannot be a receipt code."""
    canonical = code.upper().translate(_NORMALISE)
    if len(canonical) != CODE_LENGTH or any(c not in ALPHABET for c in canonical):
        return None
    return canonical


def lookup_id(key: bytes, canonical: str) -> str:
    return hmac.new(key, canonical[:PREFIX_LENGTH].encode(), hashlib.sha256).hexdigest()[:32]


class ReceiptHasher:
    def __init__(self, *, time_cost: int, memory_kib: int) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1)

    def hash(self, canonical: str) -> str:
        return self._hasher.hash(canonical)

    def verify(self, code_hash: str, canonical: str) -> bool:
        try:
            return self._hasher.verify(code_hash, canonical)
        except (VerificationError, InvalidHashError):
            return False


class RateLimiter:
    """Fixed one-minute windows per client, in this process: defence in depth behind the gateway's limit."""

    def __init__(self, per_minute: int, max_clients: int = 50_000) -> None:
        self.per_minute = per_minute
        self.max_clients = max_clients
        self._windows: OrderedDict[str, tuple[int, int]] = OrderedDict()

    def allow(self, client: str, now: float | None = None) -> bool:
        window = int((now if now is not None else time.monotonic()) // 60)
        start, count = self._windows.pop(client, (window, 0))
        if start != window:
            start, count = window, 0
        count += 1
        self._windows[client] = (start, count)
        while len(self._windows) > self.max_clients:
            self._windows.popitem(last=False)
        return count <= self.per_minute
