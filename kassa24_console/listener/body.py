"""The body limit: a request's body is read whole, within ``max_body_bytes`` (413 past it)
and within the header deadline (408 when it does not arrive), before anything parses it.

Most bodies have arrived with their headers: uvicorn holds them whole before the app is
called, and reading them cannot wait. Those are read without arming the deadline (a timer
per request cost a tenth of a verify's time in the app); any other is read under it."""

from __future__ import annotations

import asyncio

from ..service import Reply
from .exchange import EXCHANGE, ASGIApp, Receive, Scope, Send, answer


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    def __init__(self, app: ASGIApp, limit: int, timeout: float) -> None:
        self.app = app
        self.limit = limit
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            if arrived(receive):
                scope[EXCHANGE].body = await read_body(scope, receive, self.limit)
            else:
                async with asyncio.timeout(self.timeout):
                    scope[EXCHANGE].body = await read_body(scope, receive, self.limit)
        except BodyTooLarge:
            await answer(scope, send, Reply(413, {"error": f"body larger than {self.limit} bytes"}, "unknown"))
            return
        except TimeoutError:
            await answer(scope, send, Reply(408, {"error": "the body did not arrive in time"}, "unknown"))
            return
        await self.app(scope, receive, send)


def arrived(receive: Receive) -> bool:
    """Whether uvicorn already holds the whole body behind ``receive`` (its request cycle's
    ``more_body`` is False once the message is complete), so reading it cannot wait. Any
    other ``receive`` (another server, a test's) is taken as one that may."""
    cycle = getattr(receive, "__self__", None)
    return cycle is not None and getattr(cycle, "more_body", True) is False


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The whole body; :class:`BodyTooLarge` as soon as it says or proves to be past ``limit``."""
    for name, value in scope["headers"]:
        if name == b"content-length" and value.isdigit() and int(value) > limit:
            raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)
