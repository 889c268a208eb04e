"""The HTTP side: a small ASGI app and the uvicorn server that embeds in any asyncio loop.

Routing, the body-size limit and the traffic record live here; every decision about a
message is the service's. Protocol outcomes are HTTP 200 with a ``code``; HTTP errors are
for what is not a protocol message.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Generator
from typing import Any

import uvicorn

from .config import Settings
from .protocol.codes import Code
from .service import Reply, Service
from .store import Store, now_us

log = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

JSON_HEADERS = [(b"content-type", b"application/json")]


class BodyTooLarge(Exception):
    pass


class App:
    """The ASGI application: ``POST {path}``, ``POST {callback_path}``, ``GET /healthz``."""

    def __init__(self, settings: Settings, service: Service, store: Store) -> None:
        self.settings = settings
        self.service = service
        self.store = store
        self.routes: dict[str, tuple[str, Callable[[bytes], Awaitable[Reply]] | None]] = {
            settings.path: ("POST", service.handle_merchant),
            settings.callback_path: ("POST", service.handle_callback),
            "/healthz": ("GET", None),
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        started = time.perf_counter_ns()
        route = self.routes.get(scope["path"])
        if route is None:
            await _respond(send, 404, {"error": "not found"})
            return
        method, handler = route
        if scope["method"] != method:
            await _respond(send, 405, {"error": "method not allowed"}, [(b"allow", method.encode())])
            return
        if handler is None:
            await self._health(send)
            return
        try:
            raw = await _read_body(scope, receive, self.settings.max_body_bytes)
        except BodyTooLarge:
            await _respond(send, 413, {"error": f"body larger than {self.settings.max_body_bytes} bytes"})
            self._record(scope, Reply(413, {}, "unknown"), b"", started)
            return
        reply = await self._handle(handler, raw, scope["path"] == self.settings.callback_path)
        await _respond(send, reply.http_status, reply.body)
        self._record(scope, reply, raw, started)

    async def _handle(self, handler: Callable[[bytes], Awaitable[Reply]], raw: bytes, callback: bool) -> Reply:
        try:
            return await handler(raw)
        except Exception:
            # A bug must still get an answer the platform understands, never a traceback.
            log.exception("unexpected error while handling a request")
            if callback:
                return Reply(503, {"error": "internal error; retry"}, "callback")
            return Reply(200, {"code": int(Code.ERROR), "message": "internal error"}, "unknown", code=500)

    async def _health(self, send: Send) -> None:
        ok = await self.store.ping()
        await _respond(send, 200 if ok else 503, {"status": "ok" if ok else "database unreachable"})

    def _record(self, scope: Scope, reply: Reply, raw: bytes, started: int) -> None:
        client = scope.get("client")
        self.store.record_traffic(
            {
                "at": now_us(),
                "kind": reply.kind,
                "customer_id": reply.customer_id,
                "contract_id": reply.contract_id,
                "amount": reply.amount,
                "code": reply.code,
                "http_status": reply.http_status,
                "signature_ok": reply.signature_ok,
                "latency_us": (time.perf_counter_ns() - started) // 1000,
                "peer": f"{client[0]}:{client[1]}" if client else "",
                "request": raw.decode("utf-8", "replace"),
                "response": json.dumps(reply.body, ensure_ascii=False),
            }
        )


async def _read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
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


async def _respond(
    send: Send, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    payload = json.dumps(body, ensure_ascii=False).encode()
    await send({"type": "http.response.start", "status": status, "headers": JSON_HEADERS + (headers or [])})
    await send({"type": "http.response.body", "body": payload})


class _EmbeddedServer(uvicorn.Server):
    """uvicorn that leaves signal handling to whoever owns the loop (Textual, or ``serve``)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class ListenError(Exception):
    """The listener could not start; the text says why in words an operator can act on."""


class Listener:
    """The embedded HTTP server of one process."""

    def __init__(self, app: App, host: str, port: int) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._server: _EmbeddedServer | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        """Bind and start serving; :class:`ListenError` when the address cannot be used."""
        sock = self._bind()
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            http="httptools",
            lifespan="off",
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=5,
            timeout_keep_alive=5,
            server_header=False,
        )
        self._server = _EmbeddedServer(config)
        self._task = asyncio.get_running_loop().create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                raise ListenError(f"the listener on {self.host}:{self.port} stopped at start")
            await asyncio.sleep(0.01)

    def _bind(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # proto must say TCP: asyncio sets TCP_NODELAY on accepted sockets only then, and
        # without it every answer waits ~40 ms for a delayed ACK (Nagle).
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as error:
            sock.close()
            reason = "the port is already in use" if error.errno == 98 else (error.strerror or str(error))
            raise ListenError(f"cannot listen on {self.host}:{self.port}: {reason}") from None
        sock.set_inheritable(True)
        return sock

    async def stop(self) -> None:
        """Stop accepting, let in-flight requests finish (bounded), free the port."""
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        with contextlib.suppress(Exception):
            await self._task
        self._server = None
        self._task = None
