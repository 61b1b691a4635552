"""The gateway's edge over real sockets: request targets as sent (httpx would normalise them, so these
tests write raw HTTP/1.1), body limits, malformed signature headers, security headers."""

from __future__ import annotations

import asyncio
import json
import time

import jwt
import pytest
from fastapi import FastAPI, Request

from gateway.app import create_app
from gateway.hotline import sign
from gateway.settings import GatewaySettings
from services.common.auth import generate_keypair

from ..support import LoopbackServer

INTERNAL_PRIVATE, INTERNAL_PUBLIC = generate_keypair()
STAFF_PRIVATE, STAFF_PUBLIC = generate_keypair()
SECRET = "h" * 48
FEED = "/api/v1/intake/feeds/12345/reports"


class Server(LoopbackServer):
    """An ASGI app served by uvicorn on a free loopback port, its lifespan run."""

    def __init__(self, app) -> None:
        super().__init__(app, lifespan="on")


class Echo:
    """The stand-in service: records the target each request arrived with."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        app = FastAPI()

        @app.api_route("/{path:path}", methods=["GET", "HEAD", "POST", "PUT", "DELETE"])
        async def echo(path: str, request: Request):
            self.seen.append(request.scope["raw_path"].decode("latin-1"))
            body = await request.body()
            return {"path": request.url.path, "size": len(body)}

        self.app = app


def bearer(*roles: str) -> str:
    now = int(time.time())
    claims = {"sub": "s1", "roles": list(roles), "iss": "zuofeng-dev-idp", "aud": "zuofeng", "iat": now,
              "exp": now + 600}
    return "Bearer " + jwt.encode(claims, STAFF_PRIVATE, algorithm="EdDSA")


@pytest.fixture
async def edge():
    echo = Echo()
    async with Server(echo.app) as upstream:
        base = f"http://127.0.0.1:{upstream.port}"
        settings = GatewaySettings(
            internal_token_private_key=INTERNAL_PRIVATE, internal_token_public_key=INTERNAL_PUBLIC,
            staff_jwt_public_key=STAFF_PUBLIC, hotline_keys={"k1": {"secret": SECRET, "line": "12345"}},
            upstreams={name: base for name in ("intake", "triage", "evaluation", "notification")},
            rate_limits={}, body_limits={"ballot": 1024},
        )
        async with Server(create_app(settings)) as gateway:
            yield gateway.port, echo


async def raw(port: int, head: str, body: bytes = b"", *, wait: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    """Send ``head`` (request line and headers, no blank line) and ``body`` as bytes; read the answer.

    ``wait`` only bounds a hang (a gateway that waits for a body it will never get); it is not a timing."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        lines = head.strip().splitlines() + ["Host: gw.test", "Connection: close"]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), wait)
    finally:
        writer.close()
    header_block, _, payload = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = header_block.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, payload


def problem(headers: dict[str, str], payload: bytes) -> dict:
    assert headers["content-type"] == "application/problem+json"
    return json.loads(payload)


# ---- item 9: dot segments and other ambiguous targets -----------------------------------------------


@pytest.mark.parametrize("target", [
    "/qr/x/../../api/v1/intake/catalog",
    "/qr/x/%2e%2e/%2E%2E/api/v1/intake/catalog",
    "/qr/x/.%2e/../api/v1/intake/catalog",
    "/qr/x/./y",
    "/api/v1/intake/receipts/R-1/../../clues",
    "/api/v1/intake/x/../../../metrics",
    "/api/v1/intake/../../openapi.json",
    "/qr/x/..\\..\\api/v1/intake/catalog",
    "/qr/x/%5c..%5c/api",
    "/qr/x%2f..%2f..%2fapi/v1/intake/catalog",
    "/qr//x",
    "/api/v1/intake//receipts/R-1",
    "/docs/..",
])
async def test_dot_segments_and_ambiguous_separators_are_refused_before_routing(edge, target):
    port, echo = edge
    status, headers, payload = await raw(port, f"GET {target} HTTP/1.1")
    assert status == 400, payload
    body = problem(headers, payload)
    assert body["type"] == "https://zuofeng.dev/problems/path-ambiguous" and "路径" in body["detail"]
    assert echo.seen == []


async def test_a_raw_non_ascii_path_is_refused_rather_than_forwarded_as_another_path(edge):
    port, echo = edge
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write("GET /qr/码 HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n".encode())
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 400") and echo.seen == []


async def test_plain_targets_still_reach_the_service_exactly_as_sent(edge):
    port, echo = edge
    status, _, payload = await raw(port, "GET /qr/P-1/?lang=zh HTTP/1.1")
    assert status == 200, payload
    status, _, payload = await raw(port, "GET /qr/%E7%A0%81 HTTP/1.1")
    assert status == 200 and json.loads(payload)["path"] == "/qr/码"
    assert echo.seen == ["/qr/P-1/", "/qr/%E7%A0%81"]


# ---- item 10: signed requests are checked before their body is read; per-route body limits ----------


async def test_an_unknown_key_is_refused_at_once_without_waiting_for_its_body(edge):
    port, echo = edge
    # 16 MiB declared and none of it sent: a gateway that buffers first would wait here for ever.
    status, headers, payload = await raw(port, "\r\n".join([
        f"POST {FEED} HTTP/1.1", "X-Zuofeng-Key: nobody", f"X-Zuofeng-Timestamp: {int(time.time())}",
        "X-Zuofeng-Nonce: " + "n" * 20, "X-Zuofeng-Signature: v1=00", "Content-Type: application/json",
        f"Content-Length: {16 * 1024 * 1024}"]))
    assert status == 401 and problem(headers, payload)["type"].endswith("/signature-invalid")
    assert echo.seen == []


async def test_a_stale_signature_is_refused_before_its_body_is_read(edge):
    port, _ = edge
    signed = sign("k1", SECRET, "POST", FEED, b"{}", timestamp=int(time.time()) - 3600)
    head = [f"POST {FEED} HTTP/1.1", *(f"{k}: {v}" for k, v in signed.items()), "Content-Length: 1000000"]
    status, headers, payload = await raw(port, "\r\n".join(head))
    assert status == 401 and problem(headers, payload)["type"].endswith("/signature-expired")


async def test_a_public_body_over_its_route_limit_is_413_declared_or_chunked(edge):
    port, echo = edge
    path = "/api/v1/evaluation/campaigns/c1/ballots"
    big = b'{"x": "' + b"a" * 4096 + b'"}'
    status, headers, payload = await raw(
        port, f"POST {path} HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: {len(big)}", big)
    assert status == 413 and problem(headers, payload)["limit"] == 1024
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (big[:2000], big[2000:])) + b"0\r\n\r\n"
    status, headers, payload = await raw(
        port, f"POST {path} HTTP/1.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked", chunked)
    assert status == 413 and "请求体" in problem(headers, payload)["detail"]
    small = b'{"x": 1}'
    status, _, payload = await raw(
        port, f"POST {path} HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: {len(small)}", small)
    assert status == 200 and json.loads(payload)["size"] == len(small)
    # A staff route keeps the larger default limit.
    status, _, _ = await raw(port, f"POST /api/v1/triage/units:import HTTP/1.1\r\nAuthorization: {bearer('admin')}"
                                   f"\r\nContent-Type: application/yaml\r\nContent-Length: {len(big)}", big)
    assert status == 200


# ---- item 11: malformed signature timestamps and bodies that never come --------------------------------


@pytest.mark.parametrize("timestamp", ["\u00b2\u00b3", "1" * 5000, "-5", "1.7e9", "0x10"])
async def test_malformed_signature_timestamps_are_401_problems_not_500(edge, timestamp):
    port, _ = edge
    signed = sign("k1", SECRET, "POST", FEED, b"{}")
    signed["x-zuofeng-timestamp"] = timestamp
    head = [f"POST {FEED} HTTP/1.1", *(f"{k}: {v}" for k, v in signed.items()), "Content-Length: 2"]
    status, headers, payload = await raw(port, "\r\n".join(head), b"{}")
    assert status == 401, payload
    assert "Unix 秒" in problem(headers, payload)["detail"]


def test_unicode_digits_are_not_unix_seconds():
    from gateway.hotline import HotlineVerifier, NonceCache
    from gateway.settings import HotlineKey

    verifier = HotlineVerifier({"k1": HotlineKey(secret=SECRET, line="12345")}, 300, NonceCache(10))
    now = int(time.time())
    arabic = "".join(chr(0x0660 + int(d)) for d in str(now))  # int() would read these as `now`
    signed = sign("k1", SECRET, "POST", FEED, b"{}", timestamp=now)
    signed["x-zuofeng-timestamp"] = arabic
    from services.common.errors import Problem

    with pytest.raises(Problem) as refused:
        verifier.precheck(signed, now=now)
    assert refused.value.status == 401


@pytest.mark.parametrize("method", ["GET", "DELETE", "HEAD"])
async def test_a_content_length_without_a_body_is_not_a_500(edge, method):
    """The gateway forwards no body for these methods, so it must not forward a length for one either."""
    port, echo = edge
    status, _, payload = await raw(port, f"{method} /api/v1/intake/receipts/R-1 HTTP/1.1\r\n"
                                            f"Authorization: {bearer('admin')}\r\nContent-Length: 10")
    assert status == 200, payload
    assert echo.seen == ["/api/v1/intake/receipts/R-1"]


# ---- item 14: security headers, and /docs without a CDN ----------------------------------------------


async def test_api_responses_say_nosniff_and_html_pages_refuse_framing(edge):
    port, _ = edge
    status, headers, _ = await raw(port, "GET /api/v1/intake/receipts/R-1 HTTP/1.1")
    assert status == 200 and headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" not in headers  # JSON is not a page
    for target in ("GET /api/v1/nowhere HTTP/1.1", "GET /qr/x/../y HTTP/1.1"):  # problems too
        assert (await raw(port, target))[1]["x-content-type-options"] == "nosniff"
    status, headers, page = await raw(port, "GET /docs HTTP/1.1")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"


def test_html_from_a_service_gets_frame_ancestors_added_to_its_own_policy():
    from services.common.headers import secure

    added = dict(secure([(b"content-type", b"text/html; charset=utf-8"),
                         (b"content-security-policy", b"default-src 'self'")]))
    assert added[b"content-security-policy"] == b"default-src 'self'; frame-ancestors 'none'"
    kept = dict(secure([(b"content-type", b"text/html"), (b"content-security-policy", b"frame-ancestors 'self'")]))
    assert kept[b"content-security-policy"] == b"frame-ancestors 'self'"


async def test_docs_load_swagger_ui_from_the_gateway_not_a_cdn(edge):
    import re

    port, _ = edge
    _, _, page = await raw(port, "GET /docs HTTP/1.1")
    html = page.decode()
    assert "cdn" not in html.lower() and not re.search(r"""(src|href)=["']https?://""", html)
    assets = re.findall(r"""(?:src|href)=["'](/docs/assets/[^"']+)["']""", html)
    assert {a.split("?")[0].rsplit("/", 1)[1] for a in assets} == {"swagger-ui-bundle.js", "swagger-ui.css",
                                                                   "favicon-32x32.png"}
    for asset in assets:
        status, headers, body = await raw(port, f"GET {asset} HTTP/1.1")
        assert status == 200 and len(body) > 500, asset
        assert headers["x-content-type-options"] == "nosniff"
    _, headers, script = await raw(port, "GET /docs/assets/swagger-ui-bundle.js HTTP/1.1")
    assert "javascript" in headers["content-type"] and b"SwaggerUIBundle" in script
