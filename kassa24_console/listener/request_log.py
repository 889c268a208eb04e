"""The request log (``log_requests``): one JSON line per request recorded as traffic.

Lines are queued and go to the log together, a few times a second, so logging costs the
request path an append, not a formatted write; the logging thread formats a slice at a time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from .exchange import EXCHANGE, ASGIApp, Exchange, Receive, Scope, Send

requests_log = logging.getLogger("kassa24_console.requests")

FLUSH_AFTER = 0.2  # seconds a line may wait for the lines that go with it
LOG_SLICE = 200  # request lines a log record carries


class RequestLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._lines: list[dict[str, Any]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)
        exchange: Exchange = scope[EXCHANGE]
        reply = exchange.reply
        if reply is None or exchange.latency_us is None:  # not recorded as traffic
            return
        line = {
            "ts": time.time(),
            "request_id": exchange.request_id,
            "kind": reply.kind,
            "code": reply.code,
            "http_status": reply.http_status,
            "latency_ms": exchange.latency_us / 1000,
            "peer": exchange.peer,
            "signature_ok": reply.signature_ok,
        }
        if reply.signature_ok is False and reply.reason:
            line["signature"] = reply.reason  # what was tried and the likely cause
        elif reply.sig_form and reply.sig_form != "natural":
            line["signature_form"] = reply.sig_form
        self._lines.append(line)
        if len(self._lines) == 1:
            asyncio.get_running_loop().call_later(FLUSH_AFTER, self.flush)

    def flush(self) -> None:
        """Write the queued lines now."""
        lines, self._lines = self._lines, []
        for start in range(0, len(lines), LOG_SLICE):
            requests_log.info("requests", extra={"lines": lines[start : start + LOG_SLICE]})
