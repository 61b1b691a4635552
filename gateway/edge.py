"""The gateway's edge hygiene: request targets it can route unambiguously, and bounded request bodies.

Why refuse rather than normalise: the route policy (policy.py) is a pattern over the path, and the path
the gateway checks must be the one the service acts on. Dot segments (``/qr/x/../../api/…``) are removed
by httpx when it builds the upstream URL, and ``%2e%2e`` or a backslash may be read as one by whatever
sits behind; an empty segment (``//``) or an encoded slash makes two readings of one path possible. No
legitimate client sends any of these, so the gateway answers 400 before routing at all.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import unquote_to_bytes

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send

from services.common.errors import Problem, problem_response

_DOT_SEGMENTS = {b".", b".."}
# After percent-decoding: separators and controls that make a second reading of the path possible.
_AMBIGUOUS = {ord("/"), ord("\\"), 0x7F, *range(0x20)}


def target_problem(raw_path: bytes) -> Problem | None:
    """Why ``raw_path`` (as sent, before percent-decoding) cannot be routed, or None if it can."""
    if not raw_path.startswith(b"/"):
        return _bad("请求路径必须以 / 开头。")
    segments = raw_path.split(b"/")[1:]
    for position, segment in enumerate(segments):
        decoded = unquote_to_bytes(segment)
        if decoded in _DOT_SEGMENTS:
            return _bad("请求路径不得包含 “.” 或 “..” 路径段（含 %2e 编码形式）。")
        if not segment and position != len(segments) - 1:
            return _bad("请求路径不得包含连续的斜杠（空路径段）。")
        if any(byte in _AMBIGUOUS for byte in decoded):
            return _bad("请求路径不得包含反斜杠、编码的斜杠或控制字符。")
    return None


def policy_path(raw_path: bytes) -> str:
    """The path as the service will route it: percent-decoded, as the ASGI server decodes it."""
    return unquote_to_bytes(raw_path).decode("utf-8", "replace")


def _bad(detail: str) -> Problem:
    return Problem(400, detail, slug="path-ambiguous", title="请求路径无法识别")


class RefuseAmbiguousTargets:
    """Every request, the gateway's own routes (/docs, /metrics, …) included, before any routing."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raw = scope.get("raw_path") or scope["path"].encode("utf-8")
            if (problem := target_problem(raw.split(b"?", 1)[0])) is not None:
                await problem_response(problem, None)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def too_large(limit: int) -> Problem:
    return Problem(413, f"请求体超过此接口的上限（{limit} 字节）。", slug="payload-too-large",
                   title="请求体过大", limit=limit)


def declared_length(headers) -> int | None:
    """The Content-Length the caller declared; a malformed one is a 400 (h11 already refuses most)."""
    value = headers.get("content-length")
    if value is None:
        return None
    if not (value.isascii() and value.isdigit() and len(value) <= 18):
        raise Problem(400, "Content-Length 必须是十进制字节数。", slug="content-length-invalid")
    return int(value)


def check_declared(headers, limit: int) -> None:
    length = declared_length(headers)
    if length is not None and length > limit:
        raise too_large(limit)


async def bounded(stream: AsyncIterator[bytes], limit: int) -> AsyncIterator[bytes]:
    """Pass a streamed body through, refusing it as soon as it grows past ``limit`` (chunked bodies
    declare no length, so the declared check alone is not enough)."""
    seen = 0
    try:
        async for chunk in stream:
            seen += len(chunk)
            if seen > limit:
                raise too_large(limit)
            yield chunk
    except ClientDisconnect:
        raise incomplete_body() from None


def incomplete_body() -> Problem:
    # Content-Length promised more than arrived before the caller hung up: nothing is forwarded as whole.
    return Problem(400, "请求体不完整：连接在 Content-Length 声明的字节送达前已断开。", slug="body-incomplete",
                   title="请求体不完整")
