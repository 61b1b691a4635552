"""The gateway's routes: everything under a service's prefix is authenticated, then forwarded."""

from __future__ import annotations

from fastapi import APIRouter, Request

from services.common.errors import Problem

from .auth import authenticate
from .proxy import forward

router = APIRouter()

# Public paths that belong to intake but sit outside /api/v1/intake (the QR page, Open311).
_INTAKE_ROOTS = ("open311", "qr")
_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


async def _route(request: Request, service: str):
    settings = request.app.state.settings
    upstream = settings.upstreams.get(service)
    if upstream is None:
        raise Problem(404, f"No service is called {service!r}.", slug="not-found")
    principal = authenticate(request, settings)
    return await forward(request, upstream, principal, settings, request.app.state.http)


@router.api_route("/api/v1/{service}/{path:path}", methods=_METHODS, include_in_schema=False)
async def to_service(service: str, path: str, request: Request):
    return await _route(request, service)


for _root in _INTAKE_ROOTS:

    @router.api_route(f"/{_root}/{{path:path}}", methods=_METHODS, include_in_schema=False)
    async def to_intake(path: str, request: Request):
        return await _route(request, "intake")
