"""Security headers on every response, added where the response leaves (pure ASGI, no copy of the body).

- ``X-Content-Type-Options: nosniff`` on everything: a browser must not read an API's JSON, CSV or an
  attachment as HTML or script because its bytes look like one.
- On HTML pages (the QR report page, receipts, /docs): ``Content-Security-Policy: frame-ancestors 'none'``
  (and ``X-Frame-Options: DENY`` for older browsers), so no other site can frame a page and trick a
  reporter into clicking through it; ``Referrer-Policy: no-referrer``, so a page's address (a poster
  code, a receipt) is not handed to another site.

A header the application already set is kept; a CSP without ``frame-ancestors`` gets it added.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

FRAME_ANCESTORS = b"frame-ancestors 'none'"


def secure(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    names = {k.lower(): i for i, (k, _) in enumerate(headers)}
    out = list(headers)
    if b"x-content-type-options" not in names:
        out.append((b"x-content-type-options", b"nosniff"))
    content_type = headers[names[b"content-type"]][1].lower() if b"content-type" in names else b""
    if content_type.startswith(b"text/html"):
        if b"content-security-policy" in names:
            i = names[b"content-security-policy"]
            policy = out[i][1]
            if b"frame-ancestors" not in policy.lower():
                out[i] = (out[i][0], policy.rstrip(b"; ") + b"; " + FRAME_ANCESTORS)
        else:
            out.append((b"content-security-policy", FRAME_ANCESTORS))
        if b"x-frame-options" not in names:
            out.append((b"x-frame-options", b"DENY"))
        if b"referrer-policy" not in names:
            out.append((b"referrer-policy", b"no-referrer"))
    return out


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": secure(list(message.get("headers", ())))}
            await send(message)

        await self.app(scope, receive, send_secured)
