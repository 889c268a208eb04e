"""The HTTP side: a small ASGI app and the uvicorn server that embeds in any asyncio loop.

Routing, the body-size limit and the traffic record live here; every decision about a
message is the service's. Protocol outcomes are HTTP 200 with a ``code``; HTTP errors are
for what is not a protocol message.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import itertools
import json
import logging
import secrets
import socket
import sys
import time
from collections.abc import Awaitable, Callable, Generator
from typing import Any

import uvicorn

from . import census
from .clients import Budget, ClientPolicy
from .config import Settings
from .errors import SetupError
from .guard import STARTED, Door, GuardedProtocol, HeaderDeadlines
from .metrics import CONTENT_TYPE, Metrics
from .protocol.codes import Code
from .service import Reply, Service
from .store import Store, now_us
from .store.text import abridged

log = logging.getLogger(__name__)
requests_log = logging.getLogger("kassa24_console.requests")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

JSON_HEADERS = [(b"content-type", b"application/json")]


class BodyTooLarge(Exception):
    pass


Handler = Callable[[bytes, str], Awaitable[Reply]]


class App:
    """The ASGI application: ``POST {path}``, ``POST {callback_path}``, ``GET /healthz``,
    ``GET /metrics``."""

    def __init__(self, settings: Settings, service: Service, store: Store) -> None:
        self.settings = settings
        self.service = service
        self.store = store
        self.routes: dict[str, tuple[str, Handler | None]] = {
            settings.path: ("POST", service.handle_merchant),
            settings.callback_path: ("POST", service.handle_callback),
            "/healthz": ("GET", None),
            "/metrics": ("GET", None),
        }
        self.clients = ClientPolicy(settings.allow_ips, settings.trusted_proxies)
        self.budget = Budget(settings.unverified_budget)
        self.metrics = Metrics(store)
        self._ids = itertools.count(1)
        self._request_lines: list[dict[str, Any]] = []
        self._id_prefix = secrets.token_hex(3)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        started = scope.get(STARTED) or time.perf_counter_ns()
        request_id = f"{self._id_prefix}-{next(self._ids)}"
        address, peer = self.clients.peer(scope)
        reply, raw = await self._answer(scope, receive, address)
        headers = [(b"x-request-id", request_id.encode()), *reply.headers]
        if reply.kind == "metrics":
            payload = await _respond_text(send, await self.metrics.render(), headers)
            return
        payload = await _respond(send, reply.http_status, reply.body, headers)
        if reply.kind == "throttled":  # counted, never stored: a flood must not grow the database
            self.metrics.observe(reply.kind, None, 429, (time.perf_counter_ns() - started) / 1e9, None)
        elif reply.kind != "health":  # health checks are the load balancer's, not traffic
            if reply.signature_ok is not True and not reply.ours and reply.kind not in ("http", "forbidden"):
                self.budget.spend(address)  # unverified work: the peer pays for it (never for our failures)
            self._record(reply, raw, payload, peer, started, request_id)

    async def _answer(self, scope: Scope, receive: Receive, address: str) -> tuple[Reply, bytes]:
        route = self.routes.get(scope["path"])
        if route is None:
            return Reply(404, {"error": "not found"}, "http"), b""
        method, handler = route
        if scope["path"] != "/healthz" and not self.clients.allowed(address):  # /healthz: the load balancer's
            return Reply(403, {"error": "forbidden"}, "forbidden"), b""
        if scope["method"] != method:
            return Reply(405, {"error": "method not allowed"}, "http", headers=[(b"allow", method.encode())]), b""
        if handler is None:
            if scope["path"] == "/metrics":
                return Reply(200, {}, "metrics"), b""
            problem = await self.store.health()
            running, configured = census.workers()
            if running < configured and problem is None:
                problem = f"{running} of {configured} listener processes running (one is being replaced)"
            body: dict[str, Any] = {"status": problem or "ok"}
            if census.shared():
                body["workers"] = {"running": running, "configured": configured}
            return Reply(503 if problem else 200, body, "health"), b""
        throttled = self.budget.exhausted(address)
        try:
            async with asyncio.timeout(self.settings.header_timeout):
                raw = await _read_body(scope, receive, self.settings.max_body_bytes)
        except BodyTooLarge:
            return Reply(413, {"error": f"body larger than {self.settings.max_body_bytes} bytes"}, "unknown"), b""
        except TimeoutError:
            return Reply(408, {"error": "the body did not arrive in time"}, "unknown"), b""
        if throttled and not self.service.vouched(raw):
            # A correctly signed request is answered whoever sent it (behind a proxy one
            # attacker shares the platform's address); the rest pays for a new connection.
            headers = [(b"retry-after", b"60"), (b"connection", b"close")]
            return Reply(429, {"error": "too many unverified requests; slow down"}, "throttled", headers=headers), b""
        return await self._handle(handler, raw, address, scope["path"] == self.settings.callback_path), raw

    async def _handle(self, handler: Handler, raw: bytes, address: str, callback: bool) -> Reply:
        try:
            return await handler(raw, address)
        except Exception:
            # A bug must still get an answer the platform understands, never a traceback.
            log.exception("unexpected error while handling a request")
            if callback:
                return Reply(503, {"error": "internal error; retry"}, "callback", reason="internal error", ours=True)
            return Reply(
                200,
                {"code": int(Code.ERROR), "message": "internal error"},
                "unknown",
                code=500,
                reason="internal error",
                ours=True,
            )

    def _record(self, reply: Reply, raw: bytes, payload: bytes, peer: str, started: int, request_id: str) -> None:
        latency_us = (time.perf_counter_ns() - started) // 1000
        self.metrics.observe(reply.kind, reply.code, reply.http_status, latency_us / 1e6, reply.body.get("outcome"))
        # Only what the platform signed is kept whole; the rest is abridged (prefix, size, hash).
        request = raw.decode("utf-8", "replace") if reply.signature_ok else abridged(raw)
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
                "latency_us": latency_us,
                "peer": peer,
                "request": request,
                "response": payload.decode(),
                "reason": reply.reason[:REASON_CHARS] if reply.reason else None,
                "sig_form": reply.sig_form,
                "payment_id": reply.payment_id,
                "project_id": reply.project_id,
                "key_used": reply.key_used,
            }
        )
        if self.settings.log_requests:
            line = {
                "ts": time.time(),
                "request_id": request_id,
                "kind": reply.kind,
                "code": reply.code,
                "http_status": reply.http_status,
                "latency_ms": latency_us / 1000,
                "peer": peer,
                "signature_ok": reply.signature_ok,
            }
            if reply.signature_ok is False and reply.reason:
                line["signature"] = reply.reason  # what was tried and the likely cause
            elif reply.sig_form and reply.sig_form != "natural":
                line["signature_form"] = reply.sig_form
            self._log_request(line)

    def _log_request(self, entry: dict[str, Any]) -> None:
        """Queue a request's log line; lines go to the log together, a few times a second,
        so logging costs the request path an append, not a formatted write."""
        self._request_lines.append(entry)
        if len(self._request_lines) == 1:
            asyncio.get_running_loop().call_later(0.2, self.flush_request_log)

    def flush_request_log(self) -> None:
        lines, self._request_lines = self._request_lines, []
        for start in range(0, len(lines), LOG_SLICE):  # the logging thread formats a slice at a time
            requests_log.info("requests", extra={"lines": lines[start : start + LOG_SLICE]})


REASON_CHARS = 1000
SWITCH_INTERVAL = 0.0005  # seconds a thread may hold the interpreter while another waits
LOG_SLICE = 200  # request lines a log record carries


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
) -> bytes:
    """Send ``body`` as JSON; return the bytes sent (the traffic record keeps them)."""
    try:
        payload = json.dumps(body, ensure_ascii=False).encode()
    except UnicodeEncodeError:  # a lone surrogate echoed from a request: escape it
        payload = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status, "headers": JSON_HEADERS + (headers or [])})
    await send({"type": "http.response.body", "body": payload})
    return payload


async def _respond_text(send: Send, payload: bytes, headers: list[tuple[bytes, bytes]]) -> bytes:
    start = {"type": "http.response.start", "status": 200, "headers": [(b"content-type", CONTENT_TYPE), *headers]}
    await send(start)
    await send({"type": "http.response.body", "body": payload})
    return payload


class _EmbeddedServer(uvicorn.Server):
    """uvicorn that leaves signal handling to whoever owns the loop (Textual, or ``serve``)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class ListenError(SetupError):
    """The listener could not start; the text says why in words an operator can act on."""


class Listener:
    """The embedded HTTP server of one process."""

    def __init__(
        self, app: Any, host: str, port: int, settings: Settings | None = None, *, shared_port: bool = False
    ) -> None:
        self.app = app
        self.shared_port = shared_port  # one of several processes on the port (serve's workers)
        self.host = host
        self.port = port
        self.settings = settings or Settings()
        self._server: _EmbeddedServer | None = None
        self._task: asyncio.Task[None] | None = None
        self.door: Door | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def in_flight(self) -> int:
        """Requests being answered right now."""
        return len(self._server.server_state.tasks) if self._server is not None else 0

    async def start(self) -> None:
        """Bind and start serving; :class:`ListenError` when the address cannot be used."""
        sock = bind(self.host, self.port, reuse_port=self.shared_port)
        self.port = sock.getsockname()[1]
        s = self.settings
        # The writer and logging threads share the interpreter with the loop: with the
        # default 5 ms switch interval a background batch makes requests wait up to 5 ms
        # for their turn (the p99 stalls); 0.5 ms bounds that wait for little throughput.
        sys.setswitchinterval(SWITCH_INTERVAL)
        # What start-up made (modules, SQLAlchemy's tables and caches) lives as long as the
        # process: out of the collector's sight, a full collection no longer walks it and
        # no longer stalls requests for tens of milliseconds (cycle p99 45 → 21 ms).
        gc.freeze()
        deadlines: HeaderDeadlines | None = None

        def shared_deadlines() -> HeaderDeadlines:  # one sweep for all connections, made in the loop
            nonlocal deadlines
            if deadlines is None:
                deadlines = HeaderDeadlines(asyncio.get_running_loop(), s.header_timeout)
            return deadlines

        clients = getattr(self.app, "clients", None) or ClientPolicy(s.allow_ips, s.trusted_proxies)
        self.door = Door(clients, s.max_connections, s.max_connections_per_peer)
        config = uvicorn.Config(
            self.app,
            http=functools.partial(GuardedProtocol, deadlines=shared_deadlines, door=self.door),  # type: ignore[arg-type]
            lifespan="off",
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=s.shutdown_timeout,
            timeout_keep_alive=int(s.keepalive_timeout),
            limit_concurrency=s.max_connections,
            server_header=False,
            proxy_headers=False,  # X-Forwarded-For is ours to judge (ClientPolicy)
        )
        self._server = _EmbeddedServer(config)
        self._task = asyncio.get_running_loop().create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                raise ListenError(f"the listener on {self.host}:{self.port} stopped at start")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        """Stop accepting, let in-flight requests finish (bounded), free the port."""
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        with contextlib.suppress(Exception):
            await self._task
        self._server = None
        self._task = None


def bind(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """A TCP socket bound to ``host:port``; :class:`ListenError` in words when it cannot be.
    ``reuse_port``: several processes bind the port, and the kernel shares connections
    among those listening (serve with workers)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must say TCP: asyncio sets TCP_NODELAY on accepted sockets only then, and
    # without it every answer waits ~40 ms for a delayed ACK (Nagle).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        reason = "the port is already in use" if error.errno == 98 else (error.strerror or str(error))
        raise ListenError(f"cannot listen on {host}:{port}: {reason}") from None
    sock.set_inheritable(True)
    return sock
