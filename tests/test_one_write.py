"""The listener sends a response's head and body with one write to the socket (uvicorn
writes them apart), and loses nothing when no body follows or the peer is gone."""

from __future__ import annotations

import asyncio
import socket

from kassa24_console.guard import OneWrite
from tests.support.waiting import wait_until


async def _pair() -> tuple[asyncio.Transport, list[bytes], asyncio.Event]:
    """A real transport over a socket pair, and what its peer receives."""
    loop = asyncio.get_running_loop()
    ours, theirs = socket.socketpair()
    received: list[bytes] = []
    arrived = asyncio.Event()

    class Peer(asyncio.Protocol):
        def data_received(self, data: bytes) -> None:
            received.append(data)
            arrived.set()

    await loop.connect_accepted_socket(Peer, theirs)
    transport, _ = await loop.connect_accepted_socket(asyncio.Protocol, ours)
    return transport, received, arrived


class Counting:
    """The real transport, counting the writes that reach it."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport, self.writes = transport, 0

    def write(self, data: bytes) -> None:
        self.writes += 1
        self.transport.write(data)

    def is_closing(self) -> bool:
        return self.transport.is_closing()

    def close(self) -> None:
        self.transport.close()


async def _until(received: list[bytes], size: int) -> bytes:
    await wait_until(lambda: sum(map(len, received)) >= size, timeout=10, what=f"{size} bytes received")
    return b"".join(received)


async def test_a_head_and_its_body_go_in_one_write() -> None:
    transport, received, _ = await _pair()
    counting = Counting(transport)
    one = OneWrite(counting, asyncio.get_running_loop())  # type: ignore[arg-type]
    head, body = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n", b"{}"
    one.write(head)
    one.write(body)
    assert counting.writes == 1
    assert await _until(received, len(head + body)) == head + body
    one.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # an interim answer is not held
    assert counting.writes == 2
    transport.close()


async def test_a_head_with_nothing_after_it_still_goes_out() -> None:
    transport, received, _ = await _pair()
    counting = Counting(transport)
    one = OneWrite(counting, asyncio.get_running_loop())  # type: ignore[arg-type]
    head = b"HTTP/1.1 204 No Content\r\n\r\n"
    one.write(head)
    assert counting.writes == 0
    assert await _until(received, len(head)) == head  # sent right after the callback
    assert counting.writes == 1
    one.write(b"HTTP/1.1 200 OK\r\n\r\n")
    one.close()  # closing sends what waits first
    assert counting.writes == 2 and transport.is_closing()
