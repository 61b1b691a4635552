"""Request body limits per route, enforced before a body is buffered (pure ASGI middleware).

A route's framework reads the whole body before validating it (FastAPI buffers a JSON body in full), so a
limit in a schema comes too late: a 16 MiB body has already cost its memory. This middleware answers
``413`` problem+json as soon as a declared ``Content-Length`` or the bytes actually received pass the
route's limit, and the application never sees more than that.

Rules are tried in order and the first match wins. A pattern matches a path that starts with it, and
``*`` stands for one path segment (``/api/v1/intake/feeds/*/reports:batch``); end with ``/`` for a default.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import Problem, problem_response


@dataclass(frozen=True)
class BodyLimit:
    pattern: str
    max_bytes: int
    _regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        parts = (re.escape(p) for p in self.pattern.split("*"))
        object.__setattr__(self, "_regex", re.compile("[^/]*".join(parts)))

    def matches(self, path: str) -> bool:
        return self._regex.match(path) is not None


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):g} MB" if n >= 1024 * 1024 else f"{n / 1024:g} KB"


class BodyTooLarge(Problem):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"请求内容过大：此接口最多接受 {_size(limit)}。", slug="body-too-large",
                         max_bytes=limit)


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, limits: Sequence[BodyLimit]) -> None:
        self.app = app
        self.limits = tuple(limits)

    def limit_for(self, path: str) -> int | None:
        return next((rule.max_bytes for rule in self.limits if rule.matches(path)), None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.limit_for(scope.get("path", "")) if scope["type"] == "http" else None
        if limit is None:
            await self.app(scope, receive, send)
            return
        declared = next((v for k, v in scope.get("headers", ()) if k == b"content-length"), None)
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            await self._refuse(scope, receive, send, limit)
            return

        received = 0
        exceeded = False
        answered = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise BodyTooLarge(limit)
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal answered
            # However the application handled the exception (FastAPI turns one raised while it parses a
            # body into a 400), the answer is the 413.
            if exceeded:
                if message["type"] == "http.response.start" and not answered:
                    answered = True
                    await problem_response(BodyTooLarge(limit), scope.get("path"))(scope, receive, send)
                return
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except BodyTooLarge:
            if not answered:
                await self._refuse(scope, receive, send, limit)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = problem_response(BodyTooLarge(limit), scope.get("path"))
        response.headers["Connection"] = "close"  # the rest of the body is not read
        await response(scope, receive, send)
