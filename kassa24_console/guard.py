"""The HTTP protocol the listener runs: httptools, guarded at the door before anything
costs: who may connect, how many connections one peer may hold, how long and how large a
request's headers may be, and which connections go first when the cap is near. It also
stamps each request with when it began."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .clients import ClientPolicy, normal

log = logging.getLogger(__name__)

STARTED = "k24.started_ns"  # scope key: when the request's first byte was parsed
MAX_HEADER_BYTES = 16 * 1024  # the request line and headers of one request
MAX_HEADERS = 100
CROWDED = 0.9  # past this share of the connection cap, idle connections are closed first


@dataclass
class Door:
    """What every connection of one listener shares: the policy, the per-peer counts."""

    clients: ClientPolicy
    max_connections: int
    per_peer: int
    peers: Counter[str] = field(default_factory=Counter)
    refused: int = 0  # connections closed at accept (metrics)


class HeaderDeadlines:
    """Connections waiting for a request's headers, and one sweep a second that closes
    those past their deadline: a timer per request would cost every request ~10 µs. The
    oldest waiting connections are also the first to go when the connection cap is near."""

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout: float) -> None:
        self._loop = loop
        self._timeout = timeout
        self._waiting: dict[GuardedProtocol, float] = {}
        self._sweeping = False

    def wait(self, protocol: GuardedProtocol) -> None:
        self._waiting.pop(protocol, None)  # to the end: the most recent
        self._waiting[protocol] = self._loop.time() + self._timeout
        if not self._sweeping:
            self._sweeping = True
            self._loop.call_later(min(1.0, self._timeout / 2), self._sweep)

    def done(self, protocol: GuardedProtocol) -> None:
        self._waiting.pop(protocol, None)

    def evict(self, count: int, keep: GuardedProtocol) -> None:
        """Close the ``count`` connections that have waited longest for a request."""
        for protocol in [p for p in self._waiting if p is not keep][:count]:
            del self._waiting[protocol]
            protocol.expired()

    def _sweep(self) -> None:
        now = self._loop.time()
        for protocol in [p for p, deadline in self._waiting.items() if deadline <= now]:
            del self._waiting[protocol]
            protocol.expired()
        if self._waiting:
            self._loop.call_later(min(1.0, self._timeout / 2), self._sweep)
        else:
            self._sweeping = False


class _HeadersTooLarge(Exception):
    pass


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
    """httptools, plus the door: an address the allow-list refuses (and is not our proxy)
    is closed at accept, before a byte is read; a peer past its connection limit too. A
    client that connects and dribbles (slow-loris) or says nothing is disconnected at the
    header deadline, and sooner when the connection cap is near (the oldest first), so
    idle sockets cannot use up the cap. Headers past 16 KB or 100 fields get HTTP 431."""

    def __init__(
        self, *args: Any, deadlines: Callable[[], HeaderDeadlines], door: Door | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self._deadlines = deadlines()
        self._door = door
        self._address: str | None = None
        self._awaiting_headers = True
        self._header_bytes = 0
        self._header_count = self._header_size = 0
        self._too_large: str | None = None
        self._refusal: str | None = None

    # override: uvicorn's own connection_made narrows asyncio's BaseTransport to Transport, as this does.
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        # arg-type: OneWrite stands in for the Transport, with the methods uvicorn calls (duck-typed).
        super().connection_made(OneWrite(transport, self.loop))  # type: ignore[arg-type]
        door = self._door
        if door is not None:
            peer = transport.get_extra_info("peername")
            address = normal(peer[0]) if peer else ""
            if not door.clients.may_connect(address) or (
                door.clients.limited(address) and door.peers[address] >= door.per_peer
            ):
                door.refused += 1
                transport.abort()
                return
            self._address = address
            door.peers[address] += 1
            crowded = int(door.max_connections * CROWDED)
            if len(self.connections) > crowded:
                self._deadlines.evict(len(self.connections) - crowded, keep=self)
        self._deadlines.wait(self)

    def expired(self) -> None:
        if not self.transport.is_closing():
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self._refusal is not None:
            return
        if self._awaiting_headers:
            self._header_bytes += len(data)
        super().data_received(data)
        if self._awaiting_headers and self._header_bytes > MAX_HEADER_BYTES and self._refusal is None:
            self._refuse(f"request headers larger than {MAX_HEADER_BYTES} bytes")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        # literal-required: the ASGI scope is a TypedDict of the spec's keys; ours rides along in it.
        self.scope[STARTED] = time.perf_counter_ns()  # type: ignore[literal-required]
        self._header_count = self._header_size = 0
        self._deadlines.wait(self)

    def on_url(self, url: bytes) -> None:
        self._header_size = len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        """Counted as parsed (a request whose headers arrive in one read never reaches the
        byte count in :meth:`data_received`); raising stops httptools at once."""
        self._header_count += 1
        self._header_size += len(name) + len(value) + 4
        if self._header_count > MAX_HEADERS:
            self._too_large = f"more than {MAX_HEADERS} request headers"
        elif self._header_size > MAX_HEADER_BYTES:
            self._too_large = f"request headers larger than {MAX_HEADER_BYTES} bytes"
        if self._too_large is not None:
            raise _HeadersTooLarge(self._too_large)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._deadlines.done(self)
        self._awaiting_headers = False
        self._header_bytes = 0
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._awaiting_headers = True

    def send_400_response(self, msg: str) -> None:
        """httptools stopped parsing: a callback of ours refused the headers (431), or the
        request is malformed (uvicorn's 400)."""
        if self._too_large is not None:
            self._refuse(self._too_large)
            return
        super().send_400_response(msg)

    def _refuse(self, reason: str) -> None:
        self._refusal = reason
        body = json.dumps({"error": reason}).encode()
        head = (
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n"
            b"connection: close\r\ncontent-length: " + str(len(body)).encode() + b"\r\n\r\n"
        )
        self._deadlines.done(self)
        if not self.transport.is_closing():
            self.transport.write(head + body)
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._deadlines.done(self)
        if self._door is not None and self._address is not None:
            self._door.peers[self._address] -= 1
            if self._door.peers[self._address] <= 0:
                del self._door.peers[self._address]
            self._address = None
        super().connection_lost(exc)
