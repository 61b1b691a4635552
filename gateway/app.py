"""Gateway: FastAPI factory."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from services.common.errors import install_problem_handlers
from services.common.headers import SecurityHeaders
from services.common.logs import configure_logging
from services.common.observability import RequestContextMiddleware

from .api import SWAGGER_ASSETS, router
from .auth import Authenticator
from .console_auth import ConsoleAuth
from .console_auth import router as console_auth_router
from .console_static import router as console_static_router
from .edge import RefuseAmbiguousTargets
from .openapi import OpenApiAggregator
from .proxy import InternalTokens, new_client
from .ratelimit import RateLimits
from .settings import GatewaySettings, get_settings

STATIC = Path(__file__).parent / "static"
_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")


class SanitiseRequestId:
    """Drop a caller's X-Request-Id that could smuggle anything into logs; a fresh one is then made."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = scope["headers"]
            if any(k == b"x-request-id" and not _REQUEST_ID.match(v) for k, v in headers):
                scope = {**scope, "headers": [(k, v) for k, v in headers if k != b"x-request-id"]}
        await self.app(scope, receive, send)


class UpstreamHealth:
    """The services' health as the gateway sees it, probed concurrently and cached for a moment so
    frequent probes of many gateway replicas do not multiply into load on the services."""

    def __init__(self, settings: GatewaySettings, ttl: float = 2.0) -> None:
        self.settings = settings
        self.ttl = ttl
        self._cache: dict[str, tuple[float, dict[str, str]]] = {}

    async def probe(self, app: FastAPI, endpoint: str) -> dict[str, str]:
        cached = self._cache.get(endpoint)
        if cached and cached[0] > time.monotonic():
            return cached[1]

        async def one(base: str) -> str:
            try:
                response = await app.state.http.get(f"{base}/{endpoint}", timeout=2.0)
            except Exception as exc:  # noqa: BLE001 — reported, not raised
                return f"unreachable ({type(exc).__name__})"
            return "ok" if response.status_code == 200 else f"not ready ({response.status_code})"

        upstreams = self.settings.upstreams
        results = await asyncio.gather(*(one(base) for base in upstreams.values()))
        status = dict(zip(upstreams, results, strict=True))
        self._cache[endpoint] = (time.monotonic() + self.ttl, status)
        return status


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging("gateway", settings.log_level)
        app.state.http = new_client(settings)
        try:
            yield
        finally:
            await app.state.http.aclose()
            if app.state.console is not None:
                await app.state.console.aclose()
            nonces = app.state.authenticator.hotline.nonces
            if hasattr(nonces, "aclose"):
                await nonces.aclose()

    # The gateway's own OpenAPI is the aggregated one (gateway/openapi.py), served by its router.
    app = FastAPI(title="zuofeng gateway", version="1.0.0", lifespan=lifespan, openapi_url=None,
                  docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.authenticator = Authenticator(settings)
    app.state.console = None
    if settings.oidc_issuer:
        # Console sessions share the hotline nonces' Redis connection (REDIS_URL), when there is one.
        nonces = app.state.authenticator.hotline.nonces
        app.state.console = ConsoleAuth(settings, getattr(nonces, "client", None))
        app.state.authenticator.console = app.state.console
    app.state.rate_limits = RateLimits(settings.rate_limits, settings.limit_storage_uri())
    app.state.tokens = InternalTokens(settings.internal_token_private_key, settings.internal_token_ttl_seconds)
    app.state.openapi = OpenApiAggregator(settings.upstreams, settings.openapi_cache_seconds)
    health = UpstreamHealth(settings)
    install_problem_handlers(app)

    @app.get("/healthz", include_in_schema=False)
    async def healthz(request: Request) -> JSONResponse:
        """Liveness of the gateway itself (always 200 while it serves), with the services' liveness for
        operators. Restarting the gateway cannot heal a service, so a service's state never fails this."""
        return JSONResponse({"status": "ok", "services": await health.probe(request.app, "healthz")})

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> JSONResponse:
        """Ready while the gateway itself can serve; the services' readiness is listed for operators and
        gates this only for the services named in GATEWAY_READINESS_SERVICES."""
        services = await health.probe(request.app, "readyz")
        ready = all(services.get(name) == "ok" for name in settings.readiness_services)
        return JSONResponse({"status": "ready" if ready else "unavailable", "services": services},
                            status_code=200 if ready else 503)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    app.include_router(router)
    app.include_router(console_auth_router)
    app.include_router(console_static_router)  # after the sign-in routes: they take their paths first
    app.mount(SWAGGER_ASSETS, StaticFiles(directory=STATIC / "swagger-ui"), name="swagger-ui")
    app.add_middleware(RefuseAmbiguousTargets)
    app.add_middleware(SecurityHeaders)  # outside the refusal, so its 400s carry the headers too
    app.add_middleware(RequestContextMiddleware, service="gateway")
    app.add_middleware(SanitiseRequestId)
    return app
