"""Hotline request signatures: tampering, staleness and replays are refused (DESIGN §5)."""

from __future__ import annotations

import time

import pytest

from gateway.hotline import HotlineVerifier, NonceCache, sign
from gateway.settings import HotlineKey
from services.common.errors import Problem

SECRET = "s3cret-" + "k" * 40
PATH = "/api/v1/intake/feeds/12345/reports"
BODY = b'{"external_id": "T-1", "text": "\xe6\x8e\xa8\xe8\xaf\xbf"}'


def verifier(capacity: int = 1000) -> HotlineVerifier:
    return HotlineVerifier(keys={"k-12345": HotlineKey(secret=SECRET, line="12345")}, window_seconds=300,
                           nonces=NonceCache(capacity))


def check(v: HotlineVerifier, headers: dict, *, method="POST", target=PATH, body=BODY, now=None):
    return v.verify(method=method, target=target, headers=headers, body=body, client="10.0.0.1", now=now)


def refused(slug: str, call) -> Problem:
    with pytest.raises(Problem) as caught:
        call()
    assert caught.value.status == 401 and caught.value.slug == slug, (caught.value.status, caught.value.slug)
    return caught.value


def test_a_correctly_signed_request_is_the_hotline_of_its_key():
    principal = check(verifier(), sign("k-12345", SECRET, "POST", PATH, BODY))
    assert (principal.kind, principal.line, principal.subject) == ("hotline", "12345", "hotline:k-12345")
    assert principal.client == "10.0.0.1"


@pytest.mark.parametrize("change", ["body", "path", "method", "query", "timestamp", "nonce", "key"])
def test_any_tampering_breaks_the_signature(change):
    v = verifier()
    headers = sign("k-12345", SECRET, "POST", PATH, BODY)
    kwargs = {}
    if change == "body":
        kwargs["body"] = BODY.replace(b"T-1", b"T-2")
    elif change == "path":
        kwargs["target"] = PATH.replace("12345", "12388")
    elif change == "method":
        kwargs["method"] = "PUT"
    elif change == "query":
        kwargs["target"] = PATH + "?dry_run=1"
    elif change == "timestamp":
        headers["x-zuofeng-timestamp"] = str(int(headers["x-zuofeng-timestamp"]) - 1)
    elif change == "nonce":
        headers["x-zuofeng-nonce"] = "another-nonce-0123456789"
    elif change == "key":
        v.keys["k-other"] = HotlineKey(secret="o" * 40, line="12345")
        headers["x-zuofeng-key"] = "k-other"
    refused("signature-invalid", lambda: check(v, headers, **kwargs))


def test_a_signature_made_with_another_secret_is_refused():
    refused("signature-invalid", lambda: check(verifier(), sign("k-12345", "x" * 40, "POST", PATH, BODY)))


def test_unknown_keys_and_missing_headers_are_refused():
    refused("signature-invalid", lambda: check(verifier(), sign("k-nobody", SECRET, "POST", PATH, BODY)))
    headers = sign("k-12345", SECRET, "POST", PATH, BODY)
    del headers["x-zuofeng-nonce"]
    refused("signature-invalid", lambda: check(verifier(), headers))


def test_requests_signed_more_than_five_minutes_away_are_refused():
    now = time.time()
    stale = sign("k-12345", SECRET, "POST", PATH, BODY, timestamp=int(now) - 301)
    refused("signature-expired", lambda: check(verifier(), stale, now=now))
    future = sign("k-12345", SECRET, "POST", PATH, BODY, timestamp=int(now) + 301)
    refused("signature-expired", lambda: check(verifier(), future, now=now))
    recent = sign("k-12345", SECRET, "POST", PATH, BODY, timestamp=int(now) - 299)
    assert check(verifier(), recent, now=now).line == "12345"


def test_a_replayed_request_is_refused_within_the_window():
    v = verifier()
    headers = sign("k-12345", SECRET, "POST", PATH, BODY)
    check(v, headers)
    refused("signature-replayed", lambda: check(v, headers))


def test_a_nonce_is_forgotten_only_once_its_timestamp_has_left_the_window():
    v = verifier()
    now = time.time()
    headers = sign("k-12345", SECRET, "POST", PATH, BODY, timestamp=int(now))
    check(v, headers, now=now)
    refused("signature-replayed", lambda: check(v, headers, now=now + 299))
    # Past the window the replay is refused as stale, and the old nonce no longer takes memory.
    refused("signature-expired", lambda: check(v, headers, now=now + 400))
    check(v, sign("k-12345", SECRET, "POST", PATH, BODY, timestamp=int(now + 400)), now=now + 400)
    assert len(v.nonces) == 1


def test_unsigned_requests_cannot_burn_a_nonce():
    v = verifier()
    headers = sign("k-12345", SECRET, "POST", PATH, BODY)
    forged = {**headers, "x-zuofeng-signature": "v1=" + "0" * 64}
    refused("signature-invalid", lambda: check(v, forged))
    assert check(v, headers).line == "12345"


def test_a_full_nonce_cache_refuses_rather_than_forgets():
    v = verifier(capacity=2)
    now = time.time()
    for _ in range(2):
        check(v, sign("k-12345", SECRET, "POST", PATH, BODY, timestamp=int(now)), now=now)
    with pytest.raises(Problem) as caught:
        check(v, sign("k-12345", SECRET, "POST", PATH, BODY, timestamp=int(now)), now=now)
    assert caught.value.status == 503 and caught.value.headers["Retry-After"]
    # Once the remembered nonces have expired there is room again.
    later = now + 302
    assert check(v, sign("k-12345", SECRET, "POST", PATH, BODY, timestamp=int(later)), now=later)
