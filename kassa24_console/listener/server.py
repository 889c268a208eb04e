"""The uvicorn server that embeds the listener's app in any asyncio loop (Textual's, or
``serve``'s), behind the guarded HTTP protocol (:mod:`..guard`)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import socket
import sys
from collections.abc import Generator
from typing import Any

import uvicorn

from ..clients import ClientPolicy
from ..config import Settings
from ..errors import SetupError
from ..guard import Door, GuardedProtocol, HeaderDeadlines

SWITCH_INTERVAL = 0.0005  # seconds a thread may hold the interpreter while another waits


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
            # arg-type: uvicorn annotates ``http`` as a protocol class; it calls it as a factory, so a
            # partial works.
            http=functools.partial(GuardedProtocol, deadlines=shared_deadlines, door=self.door),  # type: ignore[arg-type]
            lifespan="off",
            log_config=None,
            access_log=False,
            # arg-type: annotated int, but handed to asyncio.timeout(), which takes fractions of a second
            timeout_graceful_shutdown=s.shutdown_timeout,  # type: ignore[arg-type]
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
