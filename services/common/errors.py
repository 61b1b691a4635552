"""RFC 9457 problem+json errors with stable ``type`` URIs, one shape for every service and the gateway."""

from __future__ import annotations

import logging
import traceback
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from .text import MESSAGE as UNSTORABLE_MESSAGE
from .text import scrub, unstorable_in

PROBLEM_BASE = "https://zuofeng.dev/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"

log = logging.getLogger(__name__)

_TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Validation failed",
    429: "Too many requests",
    500: "Internal error",
    502: "Bad gateway",
    503: "Service unavailable",
    504: "Gateway timeout",
}
_SLUGS = {
    400: "bad-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation",
    429: "rate-limited",
    500: "internal",
    502: "bad-gateway",
    503: "unavailable",
    504: "gateway-timeout",
}


class Problem(Exception):
    """Raise from anywhere in a request to answer with problem+json.

    ``slug`` becomes the stable ``type`` (``https://zuofeng.dev/problems/<slug>``) that clients branch on;
    ``extra`` members are added to the body (e.g. per-field ``errors``).
    """

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        slug: str | None = None,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.slug = slug or _SLUGS.get(status, "error")
        self.title = title or _TITLES.get(status, "Error")
        self.headers = headers
        self.extra = extra

    def body(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": PROBLEM_BASE + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        body.update(self.extra)
        return body


def problem_response(problem: Problem, instance: str | None = None) -> JSONResponse:
    return JSONResponse(
        problem.body(instance), status_code=problem.status, media_type=PROBLEM_MEDIA_TYPE, headers=problem.headers
    )


def validation_errors(exc: RequestValidationError | ValidationError) -> list[dict[str, Any]]:
    """Pydantic's errors without the echoed input: the input may hold a reporter's identity. Field names
    in ``loc`` are scrubbed of what cannot be encoded (an unknown key may hold a lone surrogate)."""
    return [
        {"loc": [scrub(p) if isinstance(p, str) else p for p in err.get("loc", ())], "msg": err.get("msg", ""),
         "type": err.get("type", "")}
        for err in exc.errors()
    ]


def is_database_error(exc: BaseException) -> bool:
    """SQLAlchemy's wrapper, or asyncpg's own (raw connections: COPY, LISTEN)."""
    return isinstance(exc, (DBAPIError, asyncpg.PostgresError))


def database_error_fields(exc: BaseException) -> dict[str, Any]:
    """What to log of a database error: never its message.

    Engines hide bound parameters (``hide_parameters=True``), but the driver's own message can still quote
    a value ('invalid input syntax …: "<report text>"', 'invalid input for query argument $1: …'), and the
    chained exceptions of a traceback repeat it. The statement (placeholders only), the SQLSTATE and the
    stack (frames, no messages) locate the fault; the request id or event id on the line correlates it."""
    orig = getattr(exc, "orig", None) or exc
    return {
        "error": type(orig).__name__,
        "sqlstate": getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None),
        "statement": (getattr(exc, "statement", None) or "")[:2000],
        "stack": "".join(traceback.format_tb(exc.__traceback__)),
    }


def describe_error(exc: BaseException) -> str:
    """A one-line account of an error fit for logs and dead-letter headers (see database_error_fields)."""
    if is_database_error(exc):
        fields = database_error_fields(exc)
        return f"{fields['error']} (SQLSTATE {fields['sqlstate']}) in: {fields['statement'][:300]}"
    return repr(exc)
def validation_detail(errors: list[dict[str, Any]]) -> str:
    if unstorable_in(errors):
        return f"请求中有字段{UNSTORABLE_MESSAGE}。"
    return "请求内容不符合接口要求，详见 errors。"


def install_problem_handlers(app: FastAPI) -> None:
    async def on_problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc, request.url.path)

    async def on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        problem = Problem(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))
        return problem_response(problem, request.url.path)

    async def on_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = validation_errors(exc)
        problem = Problem(422, validation_detail(errors), errors=errors)
        return problem_response(problem, request.url.path)

    async def on_database_unavailable(request: Request, exc: Exception) -> JSONResponse:
        # The request's transaction was rolled back, so nothing was half-stored: the client may retry.
        log.warning("database unavailable", extra={"path": request.url.path, "error": type(exc).__name__})
        problem = Problem(503, "The database is unavailable; nothing was stored. Retry shortly.",
                          slug="database-unavailable", headers={"Retry-After": "5"})
        return problem_response(problem, request.url.path)

    async def on_dbapi_error(request: Request, exc: DBAPIError) -> JSONResponse:
        if exc.connection_invalidated or isinstance(exc, (OperationalError, InterfaceError)):
            return await on_database_unavailable(request, exc)
        log.error("database error", extra={"path": request.url.path, **database_error_fields(exc)})
        return problem_response(Problem(500, "An internal error occurred; it has been logged."), request.url.path)

    async def on_raw_database_error(request: Request, exc: asyncpg.PostgresError) -> JSONResponse:
        # A raw connection's (COPY, LISTEN): its message may quote a value too. Registered by class, so it
        # is answered here and not re-raised to the server, which would log it whole.
        log.error("database error", extra={"path": request.url.path, **database_error_fields(exc)})
        return problem_response(Problem(500, "An internal error occurred; it has been logged."), request.url.path)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", extra={"path": request.url.path})
        return problem_response(Problem(500, "An internal error occurred; it has been logged."), request.url.path)

    # Starlette types every handler as taking a plain Exception, so a handler for a subclass needs the ignore
    app.add_exception_handler(Problem, on_problem)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, on_http)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, on_validation)  # type: ignore[arg-type]
    app.add_exception_handler(DBAPIError, on_dbapi_error)  # type: ignore[arg-type]
    app.add_exception_handler(asyncpg.PostgresError, on_raw_database_error)
    app.add_exception_handler(ConnectionError, on_database_unavailable)
    app.add_exception_handler(Exception, on_unexpected)
