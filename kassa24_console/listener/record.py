"""The traffic record: every answer the listener gives is counted in the metrics, and kept
in the store (through the writer's queue: an append, off the request path) — except health
checks (the load balancer's, not traffic), the metrics page, and 429s (counted, never
stored: a flood must not grow the database).

Only what the platform signed is kept whole; the rest is abridged (prefix, size, hash).
"""

from __future__ import annotations

import time

from ..metrics import Metrics
from ..store import Store, now_us
from ..store.text import abridged
from .exchange import EXCHANGE, ASGIApp, Exchange, Receive, Scope, Send

REASON_CHARS = 1000
NOT_TRAFFIC = frozenset({"health", "metrics"})


class TrafficRecord:
    def __init__(self, app: ASGIApp, store: Store, metrics: Metrics) -> None:
        self.app = app
        self.store = store
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)
        exchange: Exchange = scope[EXCHANGE]
        reply = exchange.reply
        if reply is None or reply.kind in NOT_TRAFFIC:
            return
        latency_us = (time.perf_counter_ns() - exchange.started) // 1000
        if reply.kind == "throttled":
            self.metrics.observe(reply.kind, None, 429, latency_us / 1e6, None)
            return
        exchange.latency_us = latency_us
        self.metrics.observe(reply.kind, reply.code, reply.http_status, latency_us / 1e6, reply.body.get("outcome"))
        raw = exchange.body
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
                "peer": exchange.peer,
                "request": raw.decode("utf-8", "replace") if reply.signature_ok else abridged(raw),
                "response": exchange.sent.decode(),
                "reason": reply.reason[:REASON_CHARS] if reply.reason else None,
                "sig_form": reply.sig_form,
                "payment_id": reply.payment_id,
                "project_id": reply.project_id,
                "key_used": reply.key_used,
            }
        )
