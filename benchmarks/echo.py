"""The baseline: a bare ASGI app that parses a JSON body and answers JSON, served by the same
uvicorn + httptools stack as ``serve``. Everything ``serve`` does beyond this is its own cost."""

from __future__ import annotations

import json
from typing import Any

HEADERS = [(b"content-type", b"application/json")]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    data = json.loads(body or b"{}")
    answer = json.dumps({"code": 0, "echo": len(data)}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": answer})
