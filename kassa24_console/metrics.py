"""``GET /metrics``: what the operator's monitoring scrapes, in Prometheus text format.

One registry per listener (not the library's global one), so several in one process (tests,
a console restarting its listener) never collide. Counting costs the request path a dict
look-up and an increment; the open-mismatch count and the oldest pending deposit are read
from the store at scrape time.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from . import census
from .store import Store, now_us, views

CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class _StoreCollector(Collector):
    """Values the store and its writer hold, read when scraped."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.open_mismatches = 0
        self.oldest_pending = 0.0

    def collect(self) -> Iterator[Any]:
        writer = self.store.writer
        yield CounterMetricFamily("kassa24_failed_writes", "Database commits that failed", value=writer.failed_writes)
        yield CounterMetricFamily(
            "kassa24_dropped_traffic_records", "Traffic records that could not be stored", value=writer.dropped_traffic
        )
        yield GaugeMetricFamily(
            "kassa24_writes_failing", "1 while database writes fail", value=int(bool(writer.failing))
        )
        running, configured = census.workers()
        yield GaugeMetricFamily("kassa24_workers_running", "serve's listener processes running", value=running)
        yield GaugeMetricFamily("kassa24_workers_configured", "serve's listener processes configured", value=configured)
        yield GaugeMetricFamily(
            "kassa24_open_mismatches", "Mismatches waiting for an operator", value=self.open_mismatches
        )
        yield GaugeMetricFamily(
            "kassa24_oldest_pending_deposit_seconds",
            "How long the oldest deposit still without a callback has waited (0: none waits)",
            value=self.oldest_pending,
        )


class _Bound:
    """One request's counter and latency histogram, bound once per (kind, code): what
    ``inc()`` and ``observe()`` would do (the same values, under the same locks), without
    their per-call checks and their walk over the buckets (a bisection finds the bucket).
    A prometheus_client whose children are shaped otherwise gets the public calls."""

    __slots__ = ("_bounds", "_buckets", "_count", "_counter", "_histogram", "_sum")

    def __init__(self, counter: Any, histogram: Any) -> None:
        self._counter, self._histogram = counter, histogram
        try:
            self._count, self._sum = counter._value, histogram._sum
            self._buckets, self._bounds = histogram._buckets, list(histogram._upper_bounds)
        except AttributeError:
            self._count = None
        else:  # the last bound is +Inf: every value finds its bucket
            assert len(self._buckets) == len(self._bounds) and self._bounds[-1] == float("inf")

    def observe(self, seconds: float) -> None:
        if self._count is None:
            self._counter.inc()
            self._histogram.observe(seconds)
            return
        self._count.inc(1)
        self._sum.inc(seconds)
        self._buckets[bisect_left(self._bounds, seconds)].inc(1)


class Metrics:
    def __init__(self, store: Store) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._store = _StoreCollector(store)
        self.registry.register(self._store)
        self._requests = Counter(
            "kassa24_requests",
            "Requests by kind and protocol code (or HTTP status)",
            ["kind", "code"],
            registry=self.registry,
        )
        self._latency = Histogram(
            "kassa24_request_seconds",
            "Time from request to answer",
            ["kind"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._callbacks = Counter(
            "kassa24_callbacks", "Signed callbacks by outcome", ["outcome"], registry=self.registry
        )
        self._batch = Histogram(
            "kassa24_writer_batch_jobs",
            "Jobs committed together in one group commit",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
            registry=self.registry,
        )
        self._alerts_sent = Counter(
            "kassa24_alerts_sent", "Alert messages a channel took, by rule", ["rule"], registry=self.registry
        )
        self._alerts_failed = Counter(
            "kassa24_alerts_failed",
            "Alert messages a channel did not take after every retry, by rule",
            ["rule"],
            registry=self.registry,
        )
        self._children: dict[tuple[str, str], _Bound] = {}
        store.writer.on_batch = lambda jobs, _traffic: self._batch.observe(jobs) if jobs else None

    def observe(self, kind: str, code: int | None, http_status: int, seconds: float, outcome: str | None) -> None:
        label = str(code) if code is not None else f"http_{http_status}"
        bound = self._children.get((kind, label))
        if bound is None:
            bound = self._children[(kind, label)] = _Bound(
                self._requests.labels(kind, label), self._latency.labels(kind)
            )
        bound.observe(seconds)
        if outcome:
            self._callbacks.labels(outcome).inc()

    def alert_delivered(self, rule: str, ok: bool) -> None:
        """One channel's outcome for one alert message (sent, or failed after its retries)."""
        (self._alerts_sent if ok else self._alerts_failed).labels(rule).inc()

    async def render(self) -> bytes:
        self._store.open_mismatches = await self._store.store.scan(views.open_mismatch_count)
        oldest = await self._store.store.scan(views.oldest_pending_deposit)
        self._store.oldest_pending = max(0.0, (now_us() - oldest) / 1e6) if oldest is not None else 0.0
        return generate_latest(self.registry)
