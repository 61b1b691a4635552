"""Gateway: FastAPI factory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.common.errors import install_problem_handlers
from services.common.logs import configure_logging
from services.common.observability import RequestContextMiddleware, health_router

from .api import router
from .proxy import new_client
from .settings import GatewaySettings, get_settings


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

    async def services_ready(app: FastAPI) -> str | None:
        async def probe(name: str, base: str) -> str | None:
            try:
                response = await app.state.http.get(f"{base}/readyz", timeout=2.0)
            except Exception as exc:  # noqa: BLE001 — reported, not raised
                return f"{name}: {type(exc).__name__}"
            return None if response.status_code == 200 else f"{name}: {response.status_code}"

        failures = await asyncio.gather(*(probe(n, b) for n, b in settings.upstreams.items()))
        failed = [f for f in failures if f]
        return "; ".join(failed) if failed else None

    app = FastAPI(title="zuofeng gateway", version="1.0.0", lifespan=lifespan)
    app.state.settings = settings
    install_problem_handlers(app)
    app.add_middleware(RequestContextMiddleware, service="gateway")
    app.include_router(health_router([services_ready]))
    app.include_router(router)
    return app
