"""Forwarding to the services: pooled connections, streamed bodies both ways, clear 502/504 problems."""

from __future__ import annotations

import httpx
from fastapi import Request
from starlette.background import BackgroundTask
from starlette.responses import StreamingResponse

from services.common.auth import IDENTITY_HEADER, Principal, mint_internal_token
from services.common.errors import Problem

from .settings import GatewaySettings

# Hop-by-hop headers (RFC 9110 §7.6.1) and the identity header, which only the gateway may set.
_DROP_REQUEST = {
    "host", "connection", "keep-alive", "proxy-authorization", "te", "trailer", "transfer-encoding",
    "upgrade", "authorization", IDENTITY_HEADER, "content-length",
}
# The gateway answers with its own request id and traceparent; the service's copies would be duplicates.
_DROP_RESPONSE = {"connection", "keep-alive", "transfer-encoding", "content-length", "server", "date",
                  "x-request-id", "traceparent"}


def new_client(settings: GatewaySettings) -> httpx.AsyncClient:
    limits = httpx.Limits(
        max_connections=settings.max_connections_per_upstream * len(settings.upstreams),
        max_keepalive_connections=settings.max_connections_per_upstream,
    )
    timeout = httpx.Timeout(settings.upstream_timeout_seconds, connect=settings.upstream_connect_timeout_seconds)
    return httpx.AsyncClient(limits=limits, timeout=timeout, follow_redirects=False)


async def forward(
    request: Request, upstream: str, principal: Principal, settings: GatewaySettings, client: httpx.AsyncClient
) -> StreamingResponse:
    headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _DROP_REQUEST]
    headers.append((IDENTITY_HEADER, mint_internal_token(
        principal, settings.internal_token_private_key, settings.internal_token_ttl_seconds)))
    headers.append(("x-request-id", request.state.request_id))
    headers.append(("traceparent", request.state.traceparent))
    body = request.stream() if request.method not in ("GET", "HEAD", "DELETE", "OPTIONS") else None
    upstream_request = client.build_request(
        request.method,
        upstream + request.url.path,
        params=request.url.query,
        headers=headers,
        content=body,
    )
    try:
        response = await client.send(upstream_request, stream=True)
    except httpx.TimeoutException as exc:
        raise Problem(504, "The service did not answer in time.", slug="gateway-timeout") from exc
    except httpx.TransportError as exc:
        raise Problem(502, "The service could not be reached.", slug="bad-gateway") from exc
    return StreamingResponse(
        response.aiter_raw(),
        status_code=response.status_code,
        headers={k: v for k, v in response.headers.items() if k.lower() not in _DROP_RESPONSE},
        background=BackgroundTask(response.aclose),
    )
