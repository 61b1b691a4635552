"""The gateway's routes: authenticate, admit by policy, rate-limit public endpoints, forward."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from services.common.errors import Problem

from .policy import admit
from .proxy import forward

router = APIRouter()

# Public paths that belong to intake but sit outside /api/v1/intake (the QR page, Open311).
_INTAKE_ROOTS = ("open311", "qr")
_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]


async def _route(request: Request, service: str):
    state = request.app.state
    upstream = state.settings.upstreams.get(service)
    if upstream is None:
        raise Problem(404, f"No service is called {service!r}.", slug="not-found")
    principal, body = await state.authenticator.authenticate(request)
    rule = admit(principal, request.method, request.url.path)
    if rule is not None and rule.limit and principal.kind == "public":
        await state.rate_limits.hit(rule.limit, principal.client or "unknown")
    return await forward(
        request, service=service, upstream=upstream, principal=principal, tokens=state.tokens,
        client=state.http, body=body,
    )


@router.get("/openapi.json", include_in_schema=False)
async def openapi(request: Request) -> JSONResponse:
    """The whole public API: every service's routes, with the gateway's security schemes."""
    return JSONResponse(await request.app.state.openapi.document(request.app.state.http))


@router.get("/docs", include_in_schema=False)
async def docs() -> HTMLResponse:
    return get_swagger_ui_html(openapi_url="/openapi.json", title="zuofeng API")


async def to_service(request: Request):
    return await _route(request, request.path_params["service"])


async def to_intake(request: Request):
    return await _route(request, "intake")


async def to_evaluation(request: Request):
    return await _route(request, "evaluation")


# Plain Starlette routes for the proxied paths: no FastAPI dependency solving on the hot path.
router.add_route("/api/v1/{service}/{path:path}", to_service, methods=_METHODS, include_in_schema=False)
for _root in _INTAKE_ROOTS:
    router.add_route(f"/{_root}/{{path:path}}", to_intake, methods=_METHODS, include_in_schema=False)
# The citizens' ballot page (H5) belongs to evaluation.
router.add_route("/vote/{path:path}", to_evaluation, methods=_METHODS, include_in_schema=False)
