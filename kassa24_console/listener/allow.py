"""The allow-list, per request: 403 for a caller it does not name.

At accept the door (:mod:`..guard`) already closes connections from addresses it refuses;
what reaches here is this machine, or a trusted proxy whose client (from
``X-Forwarded-For``) is judged now. ``/healthz`` is the load balancer's and is not guarded;
a path that is no route still gets its 404 from the router.
"""

from __future__ import annotations

from ..clients import ClientPolicy
from ..service import Reply
from .exchange import EXCHANGE, ASGIApp, Receive, Scope, Send, answer


class AllowList:
    def __init__(self, app: ASGIApp, clients: ClientPolicy, guarded: set[str]) -> None:
        self.app = app
        self.clients = clients
        self.guarded = guarded  # the paths it applies to

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] in self.guarded and not self.clients.allowed(scope[EXCHANGE].address):
            await answer(scope, send, Reply(403, {"error": "forbidden"}, "forbidden"))
            return
        await self.app(scope, receive, send)
