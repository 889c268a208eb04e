"""The HTTP protocol the listener runs: httptools, with a deadline for a request's headers
and a stamp of when each request began."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

STARTED = "k24.started_ns"  # scope key: when the request's first byte was parsed


class HeaderDeadlines:
    """Connections waiting for a request's headers, and one sweep a second that closes
    those past their deadline: a timer per request would cost every request ~10 µs."""

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout: float) -> None:
        self._loop = loop
        self._timeout = timeout
        self._waiting: dict[GuardedProtocol, float] = {}
        self._sweeping = False

    def wait(self, protocol: GuardedProtocol) -> None:
        self._waiting[protocol] = self._loop.time() + self._timeout
        if not self._sweeping:
            self._sweeping = True
            self._loop.call_later(min(1.0, self._timeout / 2), self._sweep)

    def done(self, protocol: GuardedProtocol) -> None:
        self._waiting.pop(protocol, None)

    def _sweep(self) -> None:
        now = self._loop.time()
        for protocol in [p for p, deadline in self._waiting.items() if deadline <= now]:
            del self._waiting[protocol]
            protocol.expired()
        if self._waiting:
            self._loop.call_later(min(1.0, self._timeout / 2), self._sweep)
        else:
            self._sweeping = False


class OneWrite:
    """The transport as uvicorn sees it, sending a response's head and body in one system
    call: uvicorn writes the status line and headers, then the body, each with a ``send()``
    of its own (a profile under verify load: a fifth of the loop's time in ``send``). The
    head waits for the body's write (which follows at once in the same step); should
    nothing follow, it goes out right after the current callback."""

    __slots__ = ("_loop", "_pending", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: bytes | None = None

    def write(self, data: bytes) -> None:
        if self._pending is not None:
            data, self._pending = self._pending + data, None
        elif data.startswith(b"HTTP/1.1 ") and not data.startswith(b"HTTP/1.1 100 "):
            self._pending = data
            self._loop.call_soon(self.flush)
            return
        self._transport.write(data)

    def flush(self) -> None:
        pending, self._pending = self._pending, None
        if pending and not self._transport.is_closing():
            self._transport.write(pending)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class GuardedProtocol(HttpToolsProtocol):
    """httptools, plus a deadline for a request's headers: a client that connects and
    dribbles (slow-loris) or says nothing is disconnected instead of holding a slot. It
    also stamps each request with when its first byte was parsed, so the latency the
    listener records includes any wait for the event loop."""

    def __init__(self, *args: Any, deadlines: Callable[[], HeaderDeadlines], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadlines = deadlines()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(OneWrite(transport, self.loop))  # type: ignore[arg-type]
        self._deadlines.wait(self)

    def expired(self) -> None:
        if not self.transport.is_closing():
            self.transport.close()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.scope[STARTED] = time.perf_counter_ns()  # type: ignore[literal-required]
        self._deadlines.wait(self)

    def on_headers_complete(self) -> None:
        self._deadlines.done(self)
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._deadlines.done(self)
        super().connection_lost(exc)
