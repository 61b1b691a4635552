"""A hotline system's callback endpoint on loopback (uvicorn, a real socket): it verifies each call's
signature with the code the hotline signs its own pushes with, and can be told to fail some calls."""

from __future__ import annotations

import hmac

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from gateway.hotline import signature

from ..support import LoopbackServer


class HotlineReceiver(LoopbackServer):
    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.calls: list[dict] = []  # every call: headers, body, whether its signature held, status answered
        self.fail_next: list[int] = []  # statuses to answer the next calls with (then 200)
        app = FastAPI()

        @app.post("/zuofeng/callbacks")
        async def receive(request: Request):
            body = await request.body()
            h = request.headers
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            expected = signature(self.secret, "POST", target, h.get("x-zuofeng-timestamp", ""),
                                 h.get("x-zuofeng-nonce", ""), body)
            valid = hmac.compare_digest(expected, h.get("x-zuofeng-signature", ""))
            status = (self.fail_next.pop(0) if self.fail_next else 200) if valid else 401
            self.calls.append({"headers": dict(h), "body": await request.json(), "valid": valid, "status": status})
            return JSONResponse({"ok": status == 200}, status_code=status)

        super().__init__(app)
        self.url = f"{self.base_url}/zuofeng/callbacks?line=12345"

    def delivered(self, external_id: str) -> list[dict]:
        """The calls for one ticket that the receiver accepted, in arrival order."""
        return [c for c in self.calls if c["status"] == 200 and c["body"]["external_id"] == external_id]
