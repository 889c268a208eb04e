"""What the listener's layers share about one request, and how any of them answers it.

The layers are plain ASGI callables (as Starlette's middleware are). What one layer learns
and the next needs (who called, the body, the answer sent) travels in one :class:`Exchange`
put in the scope by the front of the app: one attribute read per layer, no wrapped
``send`` and no framework object per request.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ..logs import json_encoder
from ..metrics import CONTENT_TYPE
from ..service import Reply

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

EXCHANGE = "k24.exchange"  # scope key of the request's Exchange


def _refuse(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


_encode_json = json_encoder(_refuse)  # ``json.dumps(body, ensure_ascii=False)``, made once


def to_json(body: Any) -> bytes:
    """``body`` as JSON bytes, as ``json.dumps(body, ensure_ascii=False).encode()``."""
    try:
        return _encode_json(body).encode()
    except UnicodeEncodeError:  # a lone surrogate echoed from a request: escape it
        return json.dumps(body).encode()


JSON_HEADERS = [(b"content-type", b"application/json")]


@dataclass(slots=True)
class Exchange:
    """One request as the layers see it."""

    request_id: str  # sent back as x-request-id, and in the request's log line
    started: int  # perf_counter_ns when its first byte was parsed (or it reached the app)
    address: str  # the client's address (behind a trusted proxy, the one it names)
    peer: str  # the client as the traffic record shows it ("address:port", "x via proxy")
    body: bytes = b""  # once read (the body limit)
    reply: Reply | None = None  # what was answered
    sent: bytes = b""  # the bytes of the answer's body
    latency_us: int | None = None  # set when the exchange was recorded as traffic


async def answer(scope: Scope, send: Send, reply: Reply) -> None:
    """Send ``reply`` as JSON and note it (and the bytes sent) in the exchange."""
    exchange: Exchange = scope[EXCHANGE]
    payload = to_json(reply.body)
    exchange.reply, exchange.sent = reply, payload
    headers = [*JSON_HEADERS, (b"x-request-id", exchange.request_id.encode()), *reply.headers]
    await send({"type": "http.response.start", "status": reply.http_status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


async def answer_text(scope: Scope, send: Send, reply: Reply, payload: bytes) -> None:
    """Send ``payload`` as Prometheus text (``GET /metrics``), noted as ``reply``."""
    exchange: Exchange = scope[EXCHANGE]
    exchange.reply, exchange.sent = reply, payload
    headers = [(b"content-type", CONTENT_TYPE), (b"x-request-id", exchange.request_id.encode()), *reply.headers]
    await send({"type": "http.response.start", "status": reply.http_status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
