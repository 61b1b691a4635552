"""Real receivers on loopback for the notification tests: an SMTP server (aiosmtpd) and an HTTP server
(uvicorn) standing in for the SMS and WeChat providers' webhooks. Real sockets, real protocols."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from ..support import LoopbackServer


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Mailbox:
    """Everything the SMTP server accepted."""

    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler hook
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content, policy=policy.default)))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for rcpts, m in self.messages if address in rcpts]


class SmtpServer:
    def __init__(self) -> None:
        self.mailbox = Mailbox()
        self.port = free_port()
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


class WebhookReceiver(LoopbackServer):
    """Records every webhook call; ``fail[address] = [status, …]`` answers the next calls for that address
    with those statuses (then 200)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict, dict]] = []
        self.fail: dict[str, list[int]] = {}
        app = FastAPI()

        @app.post("/{provider}")
        async def receive(provider: str, request: Request):
            body = await request.json()
            address = body.get("to") or body.get("PhoneNumbers") or body.get("touser") or ""
            planned = self.fail.get(address)
            status = planned.pop(0) if planned else 200
            self.calls.append((provider, body, dict(request.headers)))
            if status != 200:
                return JSONResponse({"error": "planned failure"}, status_code=status)
            return JSONResponse({"id": f"m{len(self.calls)}", "Code": "OK", "BizId": f"b{len(self.calls)}",
                                 "errcode": 0, "msgid": len(self.calls)})

        self.app = app
        super().__init__(app)
        self.url = self.base_url

    def to(self, provider: str, address: str) -> list[dict]:
        return [body for p, body, _ in self.calls
                if p == provider and address in (body.get("to"), body.get("PhoneNumbers"), body.get("touser"))]
