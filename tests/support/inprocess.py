"""The protocol app ``serve`` runs, built by the same code (``Runtime``), in the test's own
process on a real SQLite file, reached through ``httpx.ASGITransport``: a protocol rule is
tested without a subprocess (about 2 s of imports) or a TCP round trip.

The app lives on its own event loop in a thread, as it lives on serve's loop: the store's
background work (the traffic flush, the writer) runs on while a synchronous test waits, and
a test may call it from plain functions as it would call a server.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from unittest import mock

import httpx

from kassa24_console import alerts
from kassa24_console.alerts import Alerter
from kassa24_console.config import load_settings
from kassa24_console.runtime import Runtime
from tests.support.endpoint import Endpoint
from tests.support.serve import serve_env

T = TypeVar("T")
BASE_URL = "http://k24.test"
PEER = "127.0.0.1"  # the address the app sees the requests come from
CALL_DEADLINE = 60.0  # one request or one open/close; generous, the machine may be busy


class _LoopTransport(httpx.BaseTransport):
    """A synchronous transport that runs each request through ``httpx.ASGITransport`` on the
    app's loop and reads the whole answer there."""

    def __init__(self, app: Any, loop: asyncio.AbstractEventLoop, peer: str) -> None:
        self.inner = httpx.ASGITransport(app, client=(peer, 50_000))
        self.loop = loop

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        async def exchange() -> tuple[int, list[tuple[bytes, bytes]], bytes]:
            response = await self.inner.handle_async_request(request)
            return response.status_code, response.headers.raw, await response.aread()

        status, headers, content = asyncio.run_coroutine_threadsafe(exchange(), self.loop).result(CALL_DEADLINE)
        return httpx.Response(status, headers=headers, content=content, request=request)


@dataclass
class AppServer(Endpoint):
    """``serve``'s app (store → service → listener app) on a loop of its own, no socket."""

    runtime: Runtime = field(init=False)
    loop: asyncio.AbstractEventLoop = field(init=False)
    thread: threading.Thread = field(init=False)
    alerter: Alerter | None = field(init=False, default=None)

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the app's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(CALL_DEADLINE)

    def client(self, peer: str) -> httpx.Client:
        """Another client whose requests come from ``peer`` (close it after use)."""
        return httpx.Client(base_url=BASE_URL, transport=_LoopTransport(self.runtime.app, self.loop, peer), timeout=10)

    def stop(self) -> None:
        if not self.loop.is_closed():
            try:
                if self.alerter is not None:  # as serve stops: the alerter, then the runtime
                    self.call(self.alerter.close())
                self.call(self.runtime.close())
            finally:
                self.loop.call_soon_threadsafe(self.loop.stop)
                self.thread.join(CALL_DEADLINE)
                self.loop.close()
        super().stop()


def start_app(tmp: Path, option: int = 2, peer: str = PEER, *, alerting: bool = False, **extra_env: str) -> AppServer:
    """``serve``'s app over ``tmp/k24.db``, configured from the environment ``serve`` would get
    (``KASSA24_*`` in ``extra_env`` as a test would pass them to ``start_serve``); with
    ``alerting``, serve's alerter runs beside it on its loop, as serve starts it."""
    db_path = tmp / "k24.db"
    env = serve_env(db_path, 0, KASSA24_RESPONSE_OPTION=str(option), **extra_env)
    with mock.patch.dict(os.environ, env, clear=True):
        settings = load_settings()
    server = AppServer(BASE_URL, db_path, option, env)
    server.loop = asyncio.new_event_loop()
    server.thread = threading.Thread(target=server.loop.run_forever, name="k24-app", daemon=True)
    server.thread.start()

    async def build() -> Runtime:
        runtime = Runtime(settings)  # as serve builds it: the listener object is made, never started
        await runtime.open()
        if alerting:
            server.alerter = alerts.start(runtime)
        return runtime

    try:
        server.runtime = server.call(build())
    except BaseException:
        server.loop.call_soon_threadsafe(server.loop.stop)
        server.thread.join(CALL_DEADLINE)
        server.loop.close()
        raise
    server.http = server.client(peer)
    return server
