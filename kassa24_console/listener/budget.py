"""The budget of unverified work, per peer (:class:`~..clients.Budget`): what the platform's
routes answer without a good signature, and that was not our failure, is charged to the
peer; a peer past its budget gets 429 — unless its request is correctly signed (behind a
proxy one attacker shares the platform's address), which is answered as any other.

Telling the two apart needs the whole body, which the body limit inside reads: for a peer
past its budget only, ``receive`` is watched, and a complete body that is not vouched for
stops the request before the service sees it. Everyone else's requests pay one look-up.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..clients import Budget
from ..service import Reply
from .exchange import EXCHANGE, ASGIApp, Exchange, Receive, Scope, Send, answer

THROTTLED_HEADERS = [(b"retry-after", b"60"), (b"connection", b"close")]  # the rest pays for a new connection


class PeerBudget:
    def __init__(self, app: ASGIApp, budget: Budget, vouched: Callable[[bytes], bool], limit: int) -> None:
        self.app = app
        self.budget = budget
        self.vouched = vouched
        self.limit = limit  # the body limit's: a body past it is the limit's to refuse (413)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        exchange: Exchange = scope[EXCHANGE]
        if self.budget.exhausted(exchange.address):
            try:
                await self.app(scope, _Vouching(receive, self.vouched, self.limit), send)
            except _Unvouched:
                body = {"error": "too many unverified requests; slow down"}
                await answer(scope, send, Reply(429, body, "throttled", headers=THROTTLED_HEADERS))
                return
        else:
            await self.app(scope, receive, send)
        reply = exchange.reply
        if reply is not None and reply.signature_ok is not True and not reply.ours:
            self.budget.spend(exchange.address)  # unverified work: the peer pays (never for our failures)


class _Unvouched(Exception):
    pass


class _Vouching:
    """``receive`` for a peer past its budget: once its whole body (within the limit) has
    arrived, a body whose signature does not verify raises :class:`_Unvouched`."""

    __slots__ = ("_chunks", "_limit", "_receive", "_size", "_vouched")

    def __init__(self, receive: Receive, vouched: Callable[[bytes], bool], limit: int) -> None:
        self._receive = receive
        self._vouched = vouched
        self._limit = limit
        self._chunks: list[bytes] = []
        self._size = 0

    async def __call__(self) -> dict[str, Any]:
        message = await self._receive()
        chunk = message.get("body", b"")
        self._size += len(chunk)
        if self._size <= self._limit:
            self._chunks.append(chunk)
            if not message.get("more_body") and not self._vouched(b"".join(self._chunks)):
                raise _Unvouched
        return message
