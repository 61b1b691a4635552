"""The gateway's routes: authenticate, admit by policy, rate-limit public endpoints, forward."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from services.common.errors import Problem

from .edge import bounded, check_declared, policy_path
from .open311 import open311_error
from .policy import admit
from .proxy import forward, upstream_target

router = APIRouter()

# Public paths that belong to intake but sit outside /api/v1/intake (the QR page, Open311).
_INTAKE_ROOTS = ("open311", "qr")
_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
_BODY_METHODS = {"POST", "PUT", "PATCH"}


async def _route(request: Request, service: str):
    state = request.app.state
    upstream = state.settings.upstreams.get(service)
    if upstream is None:
        raise Problem(404, f"没有名为 {service!r} 的服务。", slug="not-found")
    # One target for the signature, the policy and the upstream request, so none of them can read a
    # different path than the others (edge.RefuseAmbiguousTargets has already refused dot segments).
    target = upstream_target(request)
    principal, body = await state.authenticator.authenticate(request, target)
    rule = admit(principal, request.method, policy_path(target.split("?", 1)[0].encode("latin-1")))
    if rule is not None and rule.limit and principal.kind == "public":
        await state.rate_limits.hit(rule.limit, principal.client or "unknown")
    stream = None
    if body is None and request.method in _BODY_METHODS:
        limit = state.settings.body_limit(rule.limit if rule else None)
        check_declared(request.headers, limit)
        stream = bounded(request.stream(), limit)
    return await forward(
        request, service=service, upstream=upstream, target=target, principal=principal, tokens=state.tokens,
        client=state.http, body=body if body is not None else stream,
    )


@router.get("/openapi.json", include_in_schema=False)
async def openapi(request: Request) -> JSONResponse:
    """The whole public API: every service's routes, with the gateway's security schemes."""
    return JSONResponse(await request.app.state.openapi.document(request.app.state.http))


# Served by the gateway itself (gateway/static/swagger-ui, from swagger-ui-dist): a government network
# often has no route to a CDN, and the page would be blank.
SWAGGER_UI_VERSION = "5.35.0"
SWAGGER_ASSETS = "/docs/assets"


@router.get("/docs", include_in_schema=False)
async def docs() -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url="/openapi.json", title="zuofeng API 接口文档",
        swagger_js_url=f"{SWAGGER_ASSETS}/swagger-ui-bundle.js?v={SWAGGER_UI_VERSION}",
        swagger_css_url=f"{SWAGGER_ASSETS}/swagger-ui.css?v={SWAGGER_UI_VERSION}",
        swagger_favicon_url=f"{SWAGGER_ASSETS}/favicon-32x32.png",
        # The default would fetch a badge from validator.swagger.io, which an offline network cannot reach.
        swagger_ui_parameters={"validatorUrl": None},
    )


async def to_service(request: Request):
    return await _route(request, request.path_params["service"])


async def to_intake(request: Request):
    if not request.url.path.startswith("/open311/"):
        return await _route(request, "intake")
    try:
        return await _route(request, "intake")
    except Problem as problem:  # an Open311 client reads the spec's error list, 429 included
        return open311_error(problem, request.url.path)


async def to_evaluation(request: Request):
    return await _route(request, "evaluation")


# Plain Starlette routes for the proxied paths: no FastAPI dependency solving on the hot path.
router.add_route("/api/v1/{service}/{path:path}", to_service, methods=_METHODS, include_in_schema=False)
for _root in _INTAKE_ROOTS:
    router.add_route(f"/{_root}/{{path:path}}", to_intake, methods=_METHODS, include_in_schema=False)
# The citizens' ballot page (H5) belongs to evaluation.
router.add_route("/vote/{path:path}", to_evaluation, methods=_METHODS, include_in_schema=False)
