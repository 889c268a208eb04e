"""The alerter: every few seconds, the rules over the store, the state claimed in the store,
and the messages sent by whichever process claimed them.

It runs as a task of its own in ``serve`` (each worker), and in the console: never on the
request path. Reads go through ``store.scan`` (off the loop), claims through the writer,
deliveries in tasks of their own, so a channel that takes a minute to fail delays nothing
else. Who sends is decided by the store (:mod:`..store.alerts`): several processes
evaluating the same rules send each message once, and a restart finds its alerts active
and sends nothing again.

``writes_failing`` cannot be claimed in a database that takes no writes: when the claim
itself fails, this process sends it once on its own say (each process that sees it may
then tell once), and tells of the recovery when writes work again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ..config import Settings
from ..i18n import _
from ..store import Store, now_us
from ..store import alerts as sa
from . import rules
from .channels import Channel, Outcome, channels, send_all
from .words import title_text

log = logging.getLogger(__name__)

HEALTH_EVERY = 30.0  # seconds between write probes while writes work
OnDelivery = Callable[[str, Outcome], None]


class Alerter:
    """The rules, the shared alert state and the channels of one process."""

    def __init__(self, settings: Settings, store: Store, *, on_delivery: OnDelivery | None = None) -> None:
        self.settings = settings
        self.store = store
        self.channels: list[Channel] = channels([u.get_secret_value() for u in settings.alert_urls])
        self.on_delivery = on_delivery
        self.zone = ZoneInfo(settings.timezone)
        self._task: asyncio.Task[None] | None = None
        self._sending: set[asyncio.Task[None]] = set()
        self._health_at = float("-inf")
        self._unhealthy = False
        self._unclaimed: dict[str, str] = {}  # key → title: sent without the store (it took no writes)
        for channel in self.channels:
            if channel.problem:
                log.warning("alert URL %s: %s", channel.name, channel.problem)

    def start(self) -> None:
        """Evaluate in the background, if this process has a channel that can send: one
        without would claim messages and send them nowhere, taking them from those with."""
        if not any(channel.problem is None for channel in self.channels):
            log.info("no usable alert URLs: alerts are not evaluated in this process")
            return
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="k24-alerts")

    async def close(self, grace: float = 5.0) -> None:
        """Stop evaluating; messages on their way get ``grace`` seconds, then are cancelled."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._sending:
            _, pending = await asyncio.wait(set(self._sending), timeout=grace)
            for task in pending:
                task.cancel()

    async def _run(self) -> None:
        while True:
            try:
                await self.evaluate()
            except Exception:
                log.warning("evaluating alert rules failed; will try again", exc_info=True)
            await asyncio.sleep(self.settings.alert_interval_seconds)

    async def evaluate(self, now: int | None = None) -> None:
        """One round: what holds, what started, what repeats, what cleared."""
        at = now if now is not None else now_us()
        problem = await self._health()
        failing = rules.writes_failing(problem)
        if failing or self._unclaimed:
            await self._unstored(failing, at)
        if problem:
            return  # nothing can be claimed in a database that takes no writes
        active = await self.store.scan(sa.active_keys)
        holding = await self.store.scan(lambda c: rules.evaluate(c, self.settings, at, active))
        for condition in holding:
            await self._hold(condition, at)
        held = {c.key for c in holding}
        for row in active:
            if row.key not in held and row.rule != "writes_failing":
                await self._clear(row.key, at)
        if not failing and any(row.rule == "writes_failing" for row in active):
            await self._clear("writes_failing", at)

    async def _health(self) -> str | None:
        """The health check, whose write probe commits a row: every ``HEALTH_EVERY`` seconds,
        and every round while writes fail (a failed commit says so at once) or were failing,
        so an idle console watching this database is not woken every round by our probe."""
        due = time.monotonic() - self._health_at >= HEALTH_EVERY
        if not (due or self.store.writer.failing or self._unhealthy or self._unclaimed):
            return None
        self._health_at = time.monotonic()
        problem = await self.store.health()
        self._unhealthy = bool(problem)
        return problem

    async def _hold(self, condition: rules.Condition, at: int) -> None:
        c = condition
        started = await self.store.write(
            lambda conn: sa.start_alert(conn, c.key, c.rule, c.title, c.text, at, c.project_id)
        )
        if started is not None:
            log.warning("alert %s started (episode %d)", c.rule, started)
            self._send(started, c.rule, "fired", title_text(c.title), c.text)
            return
        repeat_us = int(self.settings.alert_repeat_seconds * 1_000_000)
        again = await self.store.write(lambda conn: sa.claim_repeat(conn, c.key, c.text, at, repeat_us))
        if again is None:
            await self.store.write(lambda conn: sa.refresh_text(conn, c.key, c.text))
            return
        since = self._when(again.started_at)
        title = _("Still: {title}").format(title=title_text(c.title))
        self._send(again.id, c.rule, "repeat", title, _("Active since {since}.").format(since=since) + f"\n{c.text}")

    async def _clear(self, key: str, at: int) -> None:
        row = await self.store.write(lambda conn: sa.resolve_alert(conn, key, at))
        if row is None:
            return  # another process saw it clear first
        log.warning("alert %s resolved (episode %d)", row.rule, row.id)
        text = _("Resolved: it held from {start} to {end}.").format(
            start=self._when(row.started_at), end=self._when(at)
        )
        self._send(row.id, row.rule, "resolved", _("Resolved: {title}").format(title=title_text(row.title)), text)

    async def _unstored(self, failing: list[rules.Condition], at: int) -> None:
        """``writes_failing``, claimed in the store when it takes that write, else here."""
        if failing and "writes_failing" not in self._unclaimed:
            c = failing[0]
            try:
                started = await self.store.write(lambda conn: sa.start_alert(conn, c.key, c.rule, c.title, c.text, at))
            except Exception:
                self._unclaimed[c.key] = c.title
                self._send(None, c.rule, "fired", title_text(c.title), c.text)
                return
            if started is not None:
                self._send(started, c.rule, "fired", title_text(c.title), c.text)
        elif not failing and self._unclaimed:
            for key, title in list(self._unclaimed.items()):
                del self._unclaimed[key]
                resolved = _("Resolved: {title}").format(title=title_text(title))
                self._send(None, key, "resolved", resolved, _("Database writes work again."))

    def _when(self, at: int) -> str:
        return datetime.fromtimestamp(at / 1_000_000, self.zone).strftime("%Y-%m-%d %H:%M:%S")

    def _send(self, alert_id: int | None, rule: str, event: str, title: str, text: str) -> None:
        task = asyncio.get_running_loop().create_task(self._deliver(alert_id, rule, event, title, text))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _deliver(self, alert_id: int | None, rule: str, event: str, title: str, text: str) -> None:
        s = self.settings
        outcomes = await send_all(
            self.channels, f"kassa24: {title}", text, attempts=s.alert_retry_attempts, backoff=s.alert_retry_seconds
        )
        at = now_us()
        for outcome in outcomes:
            if self.on_delivery is not None:
                self.on_delivery(rule, outcome)
            if not outcome.ok:
                log.error("alert %s (%s) not delivered to %s: %s", rule, event, outcome.channel, outcome.error)
        rows = [_delivery_row(alert_id, event, o, at) for o in outcomes]
        try:
            await self.store.write(lambda conn: sa.record_deliveries(conn, rows))
        except Exception:
            log.warning("could not record the deliveries of alert %s", rule, exc_info=True)


def _delivery_row(alert_id: int | None, event: str, outcome: Outcome, at: int) -> dict[str, Any]:
    return {
        "alert_id": alert_id,
        "event": event,
        "channel": outcome.channel,
        "ok": outcome.ok,
        "attempts": outcome.attempts,
        "error": outcome.error,
        "at": at,
    }
