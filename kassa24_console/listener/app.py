"""The listener's ASGI app: small layers around the protocol's routes, composed in
:func:`listener_app` as Starlette composes middleware — plain ASGI callables, each holding
the next; a request pays one call per layer and nothing else.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Callable
from functools import partial

from ..clients import Budget, ClientPolicy
from ..config import Settings
from ..guard import STARTED
from ..metrics import Metrics
from ..service import Service
from ..store import Store
from .allow import AllowList
from .body import BodyLimit
from .budget import PeerBudget
from .exchange import EXCHANGE, ASGIApp, Exchange, Receive, Scope, Send
from .record import TrafficRecord
from .request_log import RequestLog
from .routes import Health, MetricsPage, PlatformRoute, Router


def listener_app(settings: Settings, store: Store, service: Service | None = None) -> ListenerApp:
    """The full ASGI app of one listener over ``store`` (opened by the caller; closing it
    commits the traffic records still queued), the same in ``serve``, in the console's
    listener process and in-process (``httpx.ASGITransport``)."""
    service = service or Service(settings, store)
    clients = ClientPolicy(settings.allow_ips, settings.trusted_proxies)
    metrics = Metrics(store)
    merchant, callback, limit = settings.path, settings.callback_path, settings.max_body_bytes
    budget = Budget(settings.unverified_budget)
    # Outermost first, each layer holding the next; a layer with nothing to do is left out.
    # Every request:
    layers: list[Layer | None] = [
        RequestLog if settings.log_requests else None,  # a JSON line per request kept as traffic
        partial(TrafficRecord, store=store, metrics=metrics),  # metrics; the traffic row, queued
        partial(AllowList, clients=clients, guarded={merchant, callback, "/metrics"}) if settings.allow_ips else None,
    ]
    # The platform's two routes, after the router found them:
    platform: list[Layer | None] = [
        partial(PeerBudget, budget=budget, vouched=service.vouched, limit=limit) if budget.capacity else None,
        partial(BodyLimit, limit=limit, timeout=settings.header_timeout),
    ]
    router = Router(
        {
            merchant: ("POST", stack(platform, PlatformRoute(service.handle_merchant, callback=False))),
            callback: ("POST", stack(platform, PlatformRoute(service.handle_callback, callback=True))),
            "/healthz": ("GET", Health(store)),
            "/metrics": ("GET", MetricsPage(metrics)),
        }
    )
    return ListenerApp(stack(layers, router), clients, metrics)


Layer = Callable[[ASGIApp], ASGIApp]


def stack(layers: list[Layer | None], app: ASGIApp) -> ASGIApp:
    """``app`` inside ``layers`` (outermost first)."""
    for layer in reversed(layers):
        if layer is not None:
            app = layer(app)
    return app


class ListenerApp:
    """The front of the listener's app: stamps each request with an id, when it began and
    who sent it (the :class:`~.exchange.Exchange` the layers share), then hands it on."""

    def __init__(self, app: ASGIApp, clients: ClientPolicy, metrics: Metrics) -> None:
        self.app = app
        self.clients = clients  # the door at accept shares the allow-list
        self.metrics = metrics  # alerts count their deliveries here
        self._ids = itertools.count(1)
        self._id_prefix = secrets.token_hex(3)  # request ids differ across processes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        address, peer = self.clients.peer(scope)
        started = scope.get(STARTED) or time.perf_counter_ns()
        scope[EXCHANGE] = Exchange(f"{self._id_prefix}-{next(self._ids)}", started, address, peer)
        await self.app(scope, receive, send)

    def flush_request_log(self) -> None:
        """Write the request log's queued lines now (before the process ends)."""
        if isinstance(self.app, RequestLog):
            self.app.flush()
