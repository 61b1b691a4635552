"""Hotline systems (12388, 12345, 12380 热线): API key + HMAC-SHA256 request signatures.

A hotline system sends four headers with every request::

    X-Zuofeng-Key:        the key id the city issued to it
    X-Zuofeng-Timestamp:  Unix seconds when it signed
    X-Zuofeng-Nonce:      16–128 characters [A-Za-z0-9_-], never reused
    X-Zuofeng-Signature:  v1=<hex HMAC-SHA256(secret, canonical request)>

The canonical request is ``v1``, the method, the path with its query string exactly as sent, the
timestamp, the nonce and the hex SHA-256 of the body, joined by ``\\n``. Signing the nonce binds it to the
request, so a replay cannot simply swap it. Requests more than ``window`` seconds from the gateway's
clock are refused; a nonce is remembered until its timestamp leaves the window, so within the window a
reused nonce is refused too. The cache is bounded and, when full of still-live nonces, refuses new
requests (503) rather than forgetting one that could then be replayed.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import re
import secrets
import time
from dataclasses import dataclass

from services.common.auth import Principal
from services.common.errors import Problem

from .settings import HotlineKey

KEY_HEADER = "x-zuofeng-key"
TIMESTAMP_HEADER = "x-zuofeng-timestamp"
NONCE_HEADER = "x-zuofeng-nonce"
SIGNATURE_HEADER = "x-zuofeng-signature"
VERSION = "v1"
_NONCE = re.compile(r"[A-Za-z0-9_-]{16,128}")
# ASCII digits only, at most 12: str.isdigit() admits "²" or "١" and int() of 5,000 digits raises.
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


def canonical_request(method: str, target: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    return "\n".join(
        (VERSION, method.upper(), target, timestamp, nonce, hashlib.sha256(body).hexdigest())
    ).encode()


def signature(secret: str, method: str, target: str, timestamp: str, nonce: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), canonical_request(method, target, timestamp, nonce, body), hashlib.sha256)
    return f"{VERSION}={mac.hexdigest()}"


def sign(key_id: str, secret: str, method: str, target: str, body: bytes = b"", *,
         timestamp: int | None = None, nonce: str | None = None) -> dict[str, str]:
    """The headers a hotline system sends; ``target`` is the path plus ``?query`` if any."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or secrets.token_urlsafe(18)
    return {
        KEY_HEADER: key_id,
        TIMESTAMP_HEADER: ts,
        NONCE_HEADER: nonce,
        SIGNATURE_HEADER: signature(secret, method, target, ts, nonce, body),
    }


class NonceCache:
    """Nonces seen in the replay window, per key; in memory, so per gateway replica (without REDIS_URL)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._expiry: dict[tuple[str, str], float] = {}
        self._heap: list[tuple[float, tuple[str, str]]] = []

    def __len__(self) -> int:
        return len(self._expiry)

    def _purge(self, now: float) -> None:
        while self._heap and self._heap[0][0] <= now:
            expires, key = heapq.heappop(self._heap)
            if self._expiry.get(key) == expires:
                del self._expiry[key]

    def claim(self, key_id: str, nonce: str, *, expires: float, now: float) -> bool:
        """Remember the nonce; False if it is already remembered (a replay)."""
        self._purge(now)
        key = (key_id, nonce)
        if key in self._expiry:
            return False
        if len(self._expiry) >= self.capacity:
            raise Problem(503, "Too many signed requests in the replay window; retry shortly.",
                          slug="nonce-cache-full", headers={"Retry-After": "5"})
        self._expiry[key] = expires
        heapq.heappush(self._heap, (expires, key))
        return True


    async def aclaim(self, key_id: str, nonce: str, *, expires: float, now: float) -> bool:
        return self.claim(key_id, nonce, expires=expires, now=now)


class RedisNonceCache:
    """Nonces in Redis, shared by every gateway replica: a replay sent to another replica is still one.
    ``SET NX`` with the nonce's remaining lifetime, so Redis forgets it when the window has passed."""

    def __init__(self, url: str, prefix: str = "zuofeng:nonce:") -> None:
        import redis.asyncio as aioredis

        self.client = aioredis.from_url(url)
        self.prefix = prefix

    async def aclaim(self, key_id: str, nonce: str, *, expires: float, now: float) -> bool:
        ttl_ms = max(1, int((expires - now) * 1000))
        try:
            return bool(await self.client.set(f"{self.prefix}{key_id}:{nonce}", b"1", nx=True, px=ttl_ms))
        except Exception as exc:  # noqa: BLE001 — no replay check, no signed request: fail closed
            raise Problem(503, "The replay check is unavailable; retry shortly.", slug="nonce-store-down",
                          headers={"Retry-After": "5"}) from exc

    async def aclose(self) -> None:
        await self.client.aclose()


@dataclass
class HotlineVerifier:
    keys: dict[str, HotlineKey]
    window_seconds: int
    nonces: NonceCache | RedisNonceCache

    def precheck(self, headers, *, now: float | None = None) -> HotlineKey:
        """Everything that can be checked without the body: the key, the headers' shapes, the clock.
        Run before the body is read, so an unknown key or a stale request costs no buffering."""
        now = time.time() if now is None else now
        key = self.keys.get(headers.get(KEY_HEADER, ""))
        if key is None:
            raise _unauthenticated("未知的 API 密钥（X-Zuofeng-Key）。", "signature-invalid")
        timestamp = headers.get(TIMESTAMP_HEADER, "")
        if (not _TIMESTAMP.fullmatch(timestamp) or not _NONCE.fullmatch(headers.get(NONCE_HEADER, ""))
                or not headers.get(SIGNATURE_HEADER, "")):
            raise _unauthenticated(
                f"签名请求须带 {TIMESTAMP_HEADER}（Unix 秒，ASCII 数字）、{NONCE_HEADER}（16–128 个 "
                f"[A-Za-z0-9_-] 字符）和 {SIGNATURE_HEADER}。", "signature-invalid")
        if abs(now - int(timestamp)) > self.window_seconds:
            raise _unauthenticated(
                f"请求的签名时间与网关时钟相差超过 {self.window_seconds} 秒。", "signature-expired")
        return key

    def verify(self, *, method: str, target: str, headers, body: bytes, client: str | None,
               now: float | None = None) -> Principal:
        """In-memory nonces only (the unit tests' path); the gateway calls ``averify``."""
        now = time.time() if now is None else now
        principal, key_id, nonce, expires = self._check(method, target, headers, body, client, now)
        if not isinstance(self.nonces, NonceCache):
            raise TypeError("verify() needs the in-memory nonce cache; with Redis call averify()")
        if not self.nonces.claim(key_id, nonce, expires=expires, now=now):
            raise _unauthenticated("此 nonce 已被使用过（疑似重放）。", "signature-replayed")
        return principal

    async def averify(self, *, method: str, target: str, headers, body: bytes, client: str | None,
                      now: float | None = None) -> Principal:
        now = time.time() if now is None else now
        principal, key_id, nonce, expires = self._check(method, target, headers, body, client, now)
        if not await self.nonces.aclaim(key_id, nonce, expires=expires, now=now):
            raise _unauthenticated("此 nonce 已被使用过（疑似重放）。", "signature-replayed")
        return principal

    def _check(self, method: str, target: str, headers, body: bytes, client: str | None,
               now: float) -> tuple[Principal, str, str, float]:
        key = self.precheck(headers, now=now)
        key_id = headers.get(KEY_HEADER, "")
        timestamp = headers.get(TIMESTAMP_HEADER, "")
        nonce = headers.get(NONCE_HEADER, "")
        given = headers.get(SIGNATURE_HEADER, "")
        signed_at = int(timestamp)
        expected = signature(key.secret, method, target, timestamp, nonce, body)
        if not hmac.compare_digest(expected.encode(), given.encode()):
            raise _unauthenticated("签名与请求内容不符。", "signature-invalid")
        # The nonce is claimed by the caller only after this: an unsigned request must not burn nonces.
        principal = Principal(kind=key.kind, subject=f"{key.kind}:{key_id}", line=key.line, client=client)
        return principal, key_id, nonce, signed_at + self.window_seconds + 1


def _unauthenticated(detail: str, slug: str) -> Problem:
    return Problem(401, detail, slug=slug, headers={"WWW-Authenticate": 'Zuofeng-HMAC-SHA256 realm="hotline"'})
