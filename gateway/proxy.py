"""Forwarding to the services: pooled keep-alive connections, streamed bodies, clear 502/503/504 problems
(503 when a service is down)."""

from __future__ import annotations

import http.cookiejar
import itertools
import math
import time
from collections import OrderedDict
from collections.abc import AsyncIterator

import httpx
from fastapi import Request
from starlette.background import BackgroundTask
from starlette.responses import Response, StreamingResponse

from services.common.auth import IDENTITY_HEADER, Principal, mint_internal_token
from services.common.errors import Problem

from .edge import policy_path
from .settings import GatewaySettings

# Hop-by-hop headers (RFC 9110 §7.6.1), the caller's credentials, and every x-zuofeng-* header: the
# identity header only the gateway may set, and the hotline signature headers it has already checked.
_DROP_REQUEST = {
    "host", "connection", "keep-alive", "proxy-authorization", "proxy-connection", "te", "trailer",
    "transfer-encoding", "upgrade", "authorization", "x-request-id", "traceparent", "tracestate",
}
# The gateway's own middleware sets x-request-id and traceparent on the way out; the service's would double them.
_DROP_RESPONSE = {
    "connection", "keep-alive", "transfer-encoding", "content-length", "server", "date", "x-request-id",
    "traceparent",
}
# Responses up to this size are read whole and sent in one message; larger ones are streamed.
_BUFFER_LIMIT = 256 * 1024


class ShardedTransport(httpx.AsyncBaseTransport):
    """Several small keep-alive pools used in turn instead of one large one.

    httpcore's pool scans its connections for every queued request, so its cost per request grows with
    (requests in flight × connections); profiling the gateway at 32 concurrent requests showed that scan
    as the largest single cost. Round-robin over ``shards`` pools keeps each scan short.
    """

    def __init__(self, shards: int, limits: httpx.Limits) -> None:
        def per_shard(value: int | None) -> int | None:
            return None if value is None else max(1, math.ceil(value / shards))

        shard_limits = httpx.Limits(
            max_connections=per_shard(limits.max_connections),
            max_keepalive_connections=per_shard(limits.max_keepalive_connections),
            keepalive_expiry=limits.keepalive_expiry,
        )
        self._shards = [httpx.AsyncHTTPTransport(limits=shard_limits) for _ in range(shards)]
        self._next = itertools.cycle(self._shards)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await next(self._next).handle_async_request(request)

    async def aclose(self) -> None:
        for shard in self._shards:
            await shard.aclose()


class _NoCookies(http.cookiejar.CookieJar):
    """The gateway relays cookies, it never keeps them: a jar would hand one caller's Set-Cookie to the
    next caller's request (and parsing every response into it costs time on the hot path)."""

    def extract_cookies(self, response, request) -> None:  # noqa: ARG002
        return None

    def set_cookie(self, cookie) -> None:  # noqa: ARG002
        return None


def new_client(settings: GatewaySettings) -> httpx.AsyncClient:
    connections = settings.max_connections_per_upstream * len(settings.upstreams)
    limits = httpx.Limits(
        max_connections=connections,
        max_keepalive_connections=connections,
        keepalive_expiry=settings.upstream_keepalive_seconds,
    )
    timeout = httpx.Timeout(
        settings.upstream_timeout_seconds,
        connect=settings.upstream_connect_timeout_seconds,
        pool=settings.upstream_pool_timeout_seconds,
    )
    transport = ShardedTransport(settings.upstream_pool_shards, limits)
    return httpx.AsyncClient(transport=transport, timeout=timeout, follow_redirects=False, trust_env=False,
                             cookies=_NoCookies())


class InternalTokens:
    """Minted identity tokens, reused per principal for half their lifetime.

    An Ed25519 signature per request is a measurable share of the gateway's cost; a principal's token is
    the same for every request it makes, so it is minted once and reused while it has ample time left.
    """

    def __init__(self, private_key: str, ttl_seconds: int, capacity: int = 4096) -> None:
        self.private_key = private_key
        self.ttl = ttl_seconds
        self.reuse_for = max(1.0, ttl_seconds / 2)
        self.capacity = capacity
        self._cache: OrderedDict[Principal, tuple[str, float]] = OrderedDict()

    def token_for(self, principal: Principal) -> str:
        now = time.monotonic()
        cached = self._cache.get(principal)
        if cached is not None and cached[1] > now:
            return cached[0]
        token = mint_internal_token(principal, self.private_key, self.ttl)
        self._cache[principal] = (token, now + self.reuse_for)
        self._cache.move_to_end(principal)
        if len(self._cache) > self.capacity:
            self._cache.popitem(last=False)
        return token


def _upstream_failure(exc: Exception, service: str) -> Problem:
    if isinstance(exc, httpx.PoolTimeout):
        return Problem(503, f"{service} 服务繁忙，请稍后重试。", slug="upstream-saturated",
                       headers={"Retry-After": "1"}, service=service)
    if isinstance(exc, httpx.ConnectTimeout | httpx.ConnectError):
        # A service that is down (restarting, scaled to zero) is unavailable for now, not a broken gateway:
        # 503 with Retry-After, so clients and the hotlines retry; the other routes keep working.
        return Problem(503, f"{service} 服务暂时无法连接，请稍后重试。", slug="service-unavailable",
                       headers={"Retry-After": "5"}, service=service)
    if isinstance(exc, httpx.TimeoutException):
        return Problem(504, f"{service} 服务未能及时应答。", slug="gateway-timeout", service=service)
    return Problem(502, f"{service} 服务的应答无效。", slug="bad-gateway", service=service)


def upstream_target(request: Request) -> str:
    """The target exactly as the caller sent it (percent-encoding included), query string untouched."""
    target = (request.scope.get("raw_path") or request.url.path.encode()).decode("latin-1")
    if query := request.scope.get("query_string"):
        target += "?" + query.decode("latin-1")
    return target


async def forward(
    request: Request,
    *,
    service: str,
    upstream: str,
    target: str,
    principal: Principal,
    tokens: InternalTokens,
    client: httpx.AsyncClient,
    body: bytes | AsyncIterator[bytes] | None = None,
) -> Response:
    headers = [
        (k, v) for k, v in request.headers.items()
        if k not in _DROP_REQUEST and not k.startswith("x-zuofeng-")
    ]
    if body is None:
        # No body goes up for this method, so neither may the caller's length (h11 would refuse the
        # request half-sent: a 500 instead of an answer).
        headers = [(k, v) for k, v in headers if k != "content-length"]
    headers.append((IDENTITY_HEADER, tokens.token_for(principal)))
    headers.append(("x-request-id", request.state.request_id))
    headers.append(("traceparent", request.state.traceparent))
    upstream_request = httpx.Request(request.method, upstream + target, headers=headers, content=body,
                                     extensions={"timeout": client.timeout.as_dict()})
    # The policy judged ``target``; forward nothing that httpx would turn into another path.
    sent = upstream_request.url.raw_path.split(b"?", 1)[0]
    if policy_path(sent) != policy_path(target.split("?", 1)[0].encode("latin-1")):
        raise Problem(400, "请求路径中的非 ASCII 字符须经百分号编码。", slug="path-ambiguous",
                      title="请求路径无法识别")
    # Straight to the pooled transport: the client's layers (auth, redirects, cookie jar, default-header
    # merging) do nothing for a proxy yet were a quarter of the gateway's CPU per request in profiles.
    # ``_transport_for_url`` honours the client's mounts; httpx is pinned in requirements.lock.
    transport = client._transport_for_url(upstream_request.url)
    try:
        response = await transport.handle_async_request(upstream_request)
    except httpx.HTTPError as exc:
        raise _upstream_failure(exc, service) from exc
    response.request = upstream_request
    response_headers = [(k, v) for k, v in response.headers.multi_items() if k not in _DROP_RESPONSE]
    length = response.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) <= _BUFFER_LIMIT:
        try:
            # Raw bytes: a compressed body stays compressed, matching its Content-Encoding.
            payload = b"".join([chunk async for chunk in response.aiter_raw()])
        except httpx.HTTPError as exc:
            raise _upstream_failure(exc, service) from exc
        finally:
            await response.aclose()
        reply = Response(payload, status_code=response.status_code)
    else:
        reply = StreamingResponse(
            response.aiter_raw(), status_code=response.status_code, background=BackgroundTask(response.aclose)
        )
    # Keep repeated headers (Set-Cookie, Link) as the service sent them.
    reply.raw_headers = [
        *(h for h in reply.raw_headers if h[0] == b"content-length"),
        *((k.encode("latin-1"), v.encode("latin-1")) for k, v in response_headers),
    ]
    return reply
