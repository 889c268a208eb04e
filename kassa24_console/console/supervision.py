"""The console's listener, in a process of its own (:mod:`..embedded`), and the console's own
store: opened, started, restarted (asking first while requests are in flight), and closed in
order on quit. Mixed into :class:`.app.Kassa24App`."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from .. import alerts
from ..config import Settings
from ..embedded import EmbeddedListener
from ..i18n import _, ngettext
from ..listener import ListenError
from ..reasons import part_text
from ..runtime import DEMO_KEY_WARNING, StartupError, make_store, open_store
from ..store import Store
from .screens import ConfirmScreen

log = logging.getLogger(__name__)


class Supervision:
    """Where the listener is (``listener_state``, ``problem``) and what the process exits with."""

    # The app's own, used here.
    settings: Settings
    attach: bool
    live: bool
    config_error: str | None
    listener: EmbeddedListener | None
    store: Store | None
    alerter: alerts.Alerter | None
    listener_state: str
    problem: str
    exit_code: int
    notify: Any
    push_screen: Any
    update_status: Any
    exit: Any

    async def open_store(self) -> None:
        """Open the listener's runtime in its own process (not when attached), then the
        console's own store: the console reads the database as ``--attach`` does, so no
        redraw ever makes the platform wait."""
        try:
            if not self.attach:
                if self.listener is None:
                    self.listener = EmbeddedListener(self.settings)
                if self.listener.runtime is None:
                    await self.listener.open()
            if self.store is None:
                store = make_store(self.settings)
                await open_store(store, self.settings)  # attached: never loads anything into it
                self.store = store
        except StartupError as error:
            self.problem, self.listener_state, self.exit_code = str(error), "stopped", 1
            self.update_status()
            return
        self.exit_code = 0
        if self.attach and self.settings.alert_urls and self.live and self.alerter is None:
            self.alerter = alerts.Alerter(self.settings, self.store)  # without channels: only shows
            self.alerter.start()
        if self.settings.uses_demo_key:
            log.warning(DEMO_KEY_WARNING)

    @property
    def runtime(self) -> EmbeddedListener | None:
        """The listener, once its process opened the database (it lives in that process)."""
        return self.listener.runtime if self.listener is not None else None

    async def start_listener(self) -> None:
        if self.listener is None or self.listener.runtime is None:
            return
        self.listener_state = "starting"
        self.update_status()
        try:
            await self.listener.start()
        except ListenError as error:
            self.problem = _("{error} — ctrl+r to retry").format(error=part_text(str(error)))
            self.listener_state = "stopped"
        else:
            self.problem = ""
            self.listener_state = "listening"
        self.update_status()

    async def action_restart_listener(self) -> None:
        if self.config_error:
            self.notify(_("The configuration is invalid: fix it and start again."), severity="error")
            return
        if self.attach:
            self.notify(_("Attached mode: there is no listener here."), severity="warning")
            return
        if self.runtime is None or self.store is None:
            await self.open_store()
        if self.listener is None or self.runtime is None:
            return
        listener = self.listener
        in_flight = await asyncio.to_thread(lambda: listener.in_flight)  # a question to its process
        if in_flight:
            question = ngettext(
                "{n} request in flight: it finishes first, new ones wait. Restart the listener?",
                "{n} requests in flight: they finish first, new ones wait. Restart the listener?",
                in_flight,
            ).format(n=in_flight)
            self.push_screen(ConfirmScreen(question), self._restart_if_confirmed)
            return
        await self._restart()

    async def _restart_if_confirmed(self, confirmed: bool | None) -> None:
        if confirmed:
            await self._restart()

    async def _restart(self) -> None:
        assert self.listener is not None
        self.listener_state = "restarting"
        self.update_status()
        await self.listener.stop()
        await self.start_listener()
        if self.listener_state == "listening":
            self.notify(_("Listening on port {port}.").format(port=self.listener.port))

    async def action_quit(self) -> None:
        """Stop accepting, let in-flight requests finish, commit, restore the terminal."""
        self.listener_state = "stopping"
        self.update_status()
        await self.release()
        self.exit(self.exit_code)

    async def on_unmount(self) -> None:
        """However the app ends (``q``, an error, a test's Pilot leaving), the listener's
        process is closed: it must not outlive the console that supervises it."""
        await self.release()

    async def release(self) -> None:
        """Close the alerter, the listener's process and the store; each once."""
        if self.alerter is not None:
            await self.alerter.close()
            self.alerter = None
        if self.listener is not None:
            await self.listener.close()
            self.listener = None
        if self.store is not None:
            await self.store.close()
            self.store = None

    def check_listener(self) -> None:
        """The header tells the truth when the listener stopped by itself."""
        if self.listener_state == "listening" and self.listener is not None and not self.listener.running:
            self.listener_state = "stopped"
            self.problem = _("the listener stopped — see the log file; ctrl+r to restart")
            self.update_status()
