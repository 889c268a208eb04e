"""Alerts: the operator is told, not only shown.

Rules over what the store knows (:mod:`.rules`), alert state shared through the store so
every process sends each message once (:mod:`.engine`, :mod:`..store.alerts`), and
delivery through Apprise URLs (:mod:`.channels`). No textual here: the console shows what
the store holds.
"""

from __future__ import annotations

from ..runtime import Runtime
from .engine import Alerter

__all__ = ["Alerter", "start"]


def start(runtime: Runtime) -> Alerter:
    """An alerter over ``runtime``'s store, counting deliveries in its ``/metrics``, started."""
    metrics = runtime.app.metrics
    alerter = Alerter(runtime.settings, runtime.store, on_delivery=lambda rule, o: metrics.alert_delivered(rule, o.ok))
    alerter.start()
    return alerter
