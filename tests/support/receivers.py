"""Real alert receivers on loopback: an HTTP endpoint behind ``json://`` and an SMTP server
(aiosmtpd, with a login) behind ``mailto://``. Tests read what really arrived."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.support.common import free_port

SMTP_USER = "k24alerts"
SMTP_PASSWORD = "mail-Pa55-secret"


@dataclass
class Received:
    at: float
    title: str
    body: str
    raw: Any = None


@dataclass
class HttpReceiver:
    """Answers 200 and keeps each JSON notification; ``fail`` makes it answer 500 (and count)."""

    fail: bool = False
    token: str = "hook-Secret-7f3a9c"
    got: list[Received] = field(default_factory=list)
    attempts: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                data = json.loads(self.rfile.read(length) or b"{}")
                receiver.attempts.append(time.monotonic())
                if receiver.fail:
                    self.send_response(500)
                    self.end_headers()
                    return
                receiver.got.append(Received(time.monotonic(), data.get("title", ""), data.get("message", ""), data))
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.port}/{self.token}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def titles(self) -> list[str]:
        return [r.title for r in self.got]


class SmtpReceiver:
    """An SMTP server that wants a login and keeps every message it accepts."""

    def __init__(self) -> None:
        self.got: list[Received] = []
        receiver = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                message: Message = message_from_bytes(envelope.content)
                part = next((p for p in message.walk() if p.get_content_type() == "text/plain"), message)
                body = part.get_payload(decode=True) or b""
                receiver.got.append(Received(time.monotonic(), str(message["subject"]), body.decode(), message))
                return "250 OK"

        def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
            ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
                SMTP_USER.encode(),
                SMTP_PASSWORD.encode(),
            )
            return AuthResult(success=ok)

        self.port = free_port()
        self.controller = Controller(
            Handler(), hostname="127.0.0.1", port=self.port, authenticator=authenticate, auth_require_tls=False
        )
        self.controller.start()

    @property
    def url(self) -> str:
        return (
            f"mailto://{SMTP_USER}:{SMTP_PASSWORD}@127.0.0.1:{self.port}"
            "?to=ops@example.kz&from=k24@example.kz&mode=insecure"
        )

    def close(self) -> None:
        self.controller.stop()

    def titles(self) -> list[str]:
        return [r.title for r in self.got]
