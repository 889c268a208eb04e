"""The listener's routes: a path and a method to an app; the platform's two routes hand the
body to the service, ``/healthz`` and ``/metrics`` answer from the store.

Protocol outcomes are HTTP 200 with a ``code`` (the service decides them); HTTP errors are
for what is not a protocol message: 404 unknown path, 405 wrong method.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from .. import census
from ..metrics import Metrics
from ..protocol.codes import Code
from ..service import Reply
from ..store import Store
from .exchange import EXCHANGE, ASGIApp, Exchange, Receive, Scope, Send, answer, answer_text

log = logging.getLogger(__name__)

Handler = Callable[[bytes, str], Awaitable[Reply]]


class Router:
    """``{path: (method, app)}``: 404 for a path not in it, 405 (with ``allow``) for
    another method."""

    def __init__(self, routes: dict[str, tuple[str, ASGIApp]]) -> None:
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self.routes.get(scope["path"])
        if route is None:
            await answer(scope, send, Reply(404, {"error": "not found"}, "http"))
            return
        method, app = route
        if scope["method"] != method:
            allow = [(b"allow", method.encode())]
            await answer(scope, send, Reply(405, {"error": "method not allowed"}, "http", headers=allow))
            return
        await app(scope, receive, send)


class PlatformRoute:
    """One of the platform's routes: the service's handler answers the body. A bug still
    gets an answer the platform understands, never a traceback: a callback is asked to be
    retried (503), a merchant request gets the protocol's error code."""

    def __init__(self, handle: Handler, *, callback: bool) -> None:
        self.handle = handle
        self.callback = callback

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        exchange: Exchange = scope[EXCHANGE]
        try:
            reply = await self.handle(exchange.body, exchange.address)
        except Exception:
            log.exception("unexpected error while handling a request")
            reply = self._failed()
        await answer(scope, send, reply)

    def _failed(self) -> Reply:
        if self.callback:
            return Reply(503, {"error": "internal error; retry"}, "callback", reason="internal error", ours=True)
        body = {"code": int(Code.ERROR), "message": "internal error"}
        return Reply(200, body, "unknown", code=500, reason="internal error", ours=True)


class Health:
    """``GET /healthz``: the database answers and takes writes, and (serve with workers)
    every listener process runs; 503 with the reason when not."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        problem = await self.store.health()
        running, configured = census.workers()
        if running < configured and problem is None:
            problem = f"{running} of {configured} listener processes running (one is being replaced)"
        body: dict[str, Any] = {"status": problem or "ok"}
        if census.shared():
            body["workers"] = {"running": running, "configured": configured}
        await answer(scope, send, Reply(503 if problem else 200, body, "health"))


class MetricsPage:
    """``GET /metrics``: the Prometheus text of this listener's metrics."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await answer_text(scope, send, Reply(200, {}, "metrics"), await self.metrics.render())
