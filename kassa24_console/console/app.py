"""The operator console: a Textual app that starts the listener in a process of its own and
supervises it (:mod:`..embedded`), and reads the database through a store of its own, as
``--attach`` does."""

from __future__ import annotations

import contextlib
import logging
import os
from typing import Any

from rich.text import Text
from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.widgets import Sparkline, Static, TabbedContent, TabPane

from .. import alerts, i18n
from ..config import Settings
from ..embedded import EmbeddedListener
from ..i18n import N_, _
from ..store import Store, display_url
from ..zones import zone as time_zone
from . import heap, projects_header
from .alerts import AlertsPane
from .context import Context
from .language import Words, header_mark, tab_label
from .mismatches import MismatchesPane
from .navigation import Navigation, known_binding_ids
from .operations import Operations
from .panes import CallbacksPane, ContractsPane
from .rates import RATE_MINUTES, Rates, counters_text
from .screens import steady
from .supervision import Supervision
from .traffic import TrafficPane

log = logging.getLogger(__name__)

# The listener's states as the header names them (the code keeps the English key).
STATES = {
    "starting": N_("starting"),
    "not started": N_("not started"),
    "stopped": N_("stopped"),
    "restarting": N_("restarting"),
    "stopping": N_("stopping"),
}


class StatusBar(Vertical):
    """Where the listener is, which project and database, and how busy it is."""

    def compose(self) -> ComposeResult:
        yield Static("", id="status-line")
        with Horizontal(id="status-rates"):
            yield Static("", id="status-counters")
            yield Sparkline([0] * RATE_MINUTES, id="status-sparkline")


class Kassa24App(Supervision, Operations, Navigation, App[int]):
    """The console. Panes read the store; the listener writes it. Panes ask the app with messages
    (:mod:`.messages`, handled in :mod:`.operations`); the listener is supervised in
    :mod:`.supervision`; keys, help and palette are in :mod:`.navigation`."""

    CSS_PATH = "app.tcss"
    TITLE = "kassa24-console"
    BINDINGS = [
        Binding("q", "quit", N_("Quit"), id="app.quit", tooltip=N_("quit (in-flight requests are answered first)")),
        Binding("ctrl+q", "quit", N_("Quit"), show=False, priority=True, id="app.quit_ctrl"),
        Binding("f1", "help", N_("Help"), id="app.help", tooltip=N_("this help")),
        Binding("question_mark", "help", N_("Help"), show=False, id="app.help_question"),
        Binding(
            "escape", "hide_help_panel", N_("Hide keys"), show=False, id="app.keys", tooltip=N_("close keys panel")
        ),
        Binding("t", "show_tab('traffic')", N_("Traffic"), show=False, id="app.traffic"),
        Binding("c", "show_tab('contracts')", N_("Contracts"), show=False, id="app.contracts"),
        Binding("b", "show_tab('callbacks')", N_("Callbacks"), show=False, id="app.callbacks"),
        Binding("m", "show_tab('mismatches')", N_("Mismatches"), show=False, id="app.mismatches"),
        Binding(
            "exclamation_mark",
            "show_tab('alerts')",
            N_("Alerts"),
            show=False,
            id="app.alerts",
            tooltip=N_("alerts: active and recent, acknowledge with a note"),
        ),
        Binding(
            "ctrl+r",
            "restart_listener",
            N_("Restart listener"),
            id="app.restart",
            tooltip=N_("restart the listener (asks first while requests are in flight)"),
        ),
    ]

    def __init__(
        self, settings: Settings, *, attach: bool = False, live: bool = True, config_error: str | None = None
    ) -> None:
        """``live=False`` stops the timers (snapshot tests refresh by hand); with a
        ``config_error`` the console only says what is wrong with the configuration."""
        super().__init__()
        if "TEXTUAL_ANIMATIONS" not in os.environ:
            # A pane switch is one frame, not twenty: the tabs' underline slid for 0.3 s at
            # 60 frames a second, each frame redrawing the tabs, the header and the
            # screen's layers (issue 24); the same with toasts and scrolling.
            self.animation_level = "none"
        self.config_error = config_error
        self.settings = settings
        if settings.language:
            i18n.set_language(settings.language)
        self.attach = attach
        self.live = live
        self.zone = time_zone(settings.timezone)
        # What every pane is built with: the settings, the zone and the console's own store
        # (reads, operator's edits), opened on mount.
        self.context = Context(settings, self.zone)
        self.listener: EmbeddedListener | None = None  # the listener, in its own process
        self.alerter: alerts.Alerter | None = None  # attached only: with a listener, its process alerts
        self.alert_count: int | None = None  # active alerts last shown: more rings the bell
        self.listener_state = "starting"
        self.problem = ""
        self.key_note: str | None = None  # a previous key still in use near its end
        self.exit_code = 0  # what the process exits with: non-zero when it could not start
        self.rates = Rates()
        self.heap = heap.Heap()
        self.unknown_keys = sorted(set(settings.keymap) - known_binding_ids(Kassa24App)) if settings.keymap else []
        if settings.keymap:
            self.set_keymap(settings.keymap)

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        with TabbedContent(initial="traffic", id="tabs"):
            with TabPane(tab_label("traffic"), id="traffic"):
                yield TrafficPane(self.context, id="traffic-pane")
            with TabPane(tab_label("contracts"), id="contracts"):
                yield ContractsPane(self.context, id="contracts-pane")
            with TabPane(tab_label("callbacks"), id="callbacks"):
                yield CallbacksPane(self.context, id="callbacks-pane")
            with TabPane(tab_label("mismatches"), id="mismatches"):
                yield MismatchesPane(self.context, id="mismatches-pane")
            with TabPane(tab_label("alerts"), id="alerts"):
                yield AlertsPane(self.context, id="alerts-pane")
        yield Words()

    async def on_mount(self) -> None:
        self.theme = self.theme or "textual-dark"
        if self.config_error:
            self.problem = _("{error} — fix the configuration and start again (q quits)").format(
                error=self.config_error
            )
            self.listener_state = "not started"
            self.exit_code = 2
            self.update_status()
            return
        await self.open_store()
        if not self.attach:
            if problem := self.settings.key_problem(said=True):
                self.problem, self.listener_state, self.exit_code = (
                    _("{problem} (q quits)").format(problem=problem),
                    "not started",
                    2,
                )
            else:
                await self.start_listener()
        if warning := self.settings.key_warning(said=True):
            self.notify(warning, severity="warning", timeout=10)
        if self.unknown_keys:
            shown = ", ".join(self.unknown_keys)
            log.warning("keymap: unknown binding ids %s", shown)
            message = _("keymap: no binding with the id {ids} (F1 lists the keys)").format(ids=shown)
            self.notify(message, severity="error", timeout=15)
        self.update_status()
        await self.refresh_all()
        if self.live:
            self.set_interval(0.25, self._closing_safe(self._tick_traffic))
            self.set_interval(0.5, self._closing_safe(self._tick_panes))  # cheap: reads only tables that moved
            self.set_interval(2.0, self._closing_safe(self._tick_rates))
            self.set_interval(projects_header.EVERY, self._closing_safe(self._tick_keys))
            self.call_later(self._closing_safe(self._tick_keys))
        self.query_one("#traffic-table").focus()
        steady(self.screen)
        self.call_after_refresh(self._settle_heap)

    def _settle_heap(self) -> None:
        """Start-up's objects frozen; full collections on a timer at quiet moments (:mod:`.heap`)."""
        self.heap.settle()
        self.set_interval(heap.EVERY, self.heap.collect_when_quiet)

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key):
            self.heap.key()
        await super().on_event(event)

    def on_unmount(self) -> None:
        self.heap.release()  # an app closed in a longer process (tests): its objects are collectable again

    @property
    def store(self) -> Store | None:
        """The console's own store (reads, operator's edits): the panes' context holds it."""
        return self.context.store

    @store.setter
    def store(self, store: Store | None) -> None:
        self.context.store = store

    # --- refresh ---------------------------------------------------------------------------

    async def refresh_panes(self) -> None:
        """Every list read again, each only if a table it shows was written (after a save)."""
        await self._tick_panes(all_panes=True)

    async def refresh_all(self) -> None:
        await self._tick_traffic()
        await self._tick_panes(all_panes=True)
        await self._tick_rates()

    @staticmethod
    def _closing_safe(tick: Any) -> Any:
        """A timer's work that may find its widgets gone (the app is closing): then it stops."""

        async def run() -> None:
            with contextlib.suppress(NoMatches):
                await tick()

        return run

    async def _tick_traffic(self) -> None:
        """The Traffic pane reads only while it is on screen (issue 24): hidden, it would read
        and lay out hundreds of rows a second that nobody sees, on the loop a key waits on.
        Shown again, it catches up at once (:meth:`on_tabbed_content_tab_activated`)."""
        if self.query_one(TabbedContent).active != "traffic":
            return
        for pane in self.query(TrafficPane).results(TrafficPane):  # none once the app is closing
            await pane.poll()

    def on_tabbed_content_tab_activated(self) -> None:
        """A pane just shown reads what it missed once its frame is out, not before: the
        switch appears at once, the rows a moment later (a list read only every 0.5 s)."""
        if self.live:
            self.call_after_refresh(self._closing_safe(self._tick_traffic))
            self.call_after_refresh(self._closing_safe(self._tick_panes))

    async def _tick_panes(self, all_panes: bool = False) -> None:
        active = self.query_one(TabbedContent).active
        panes = (
            ("contracts", ContractsPane),
            ("callbacks", CallbacksPane),
            ("mismatches", MismatchesPane),
            ("alerts", AlertsPane),
        )
        for tab, pane in panes:
            if all_panes or active == tab:
                for widget in self.query(pane).results(pane):
                    await widget.refresh_rows()

    async def _tick_rates(self) -> None:
        self.check_listener()
        if self.store is None:
            return
        shown = await self.rates.read(self.store)
        if shown is None:
            return
        requests, last_minute, open_count, alert_count = shown
        self.query_one("#status-sparkline", Sparkline).data = requests
        counters = counters_text(last_minute, open_count, alert_count)
        self.query_one("#status-counters", Static).update(counters, layout=False)
        if self.alert_count is not None and alert_count > self.alert_count and self.settings.alert_bell:
            self.bell()
        self.alert_count = alert_count

    async def _tick_keys(self) -> None:
        if self.store is not None and self.key_note != (
            note := await projects_header.key_note(self.store, self.settings, self.zone)
        ):
            self.key_note = note
            self.update_status()

    def update_status(self) -> None:
        """One line that never wraps (at 80 columns the database is cut, with an ellipsis,
        never the listener's state or the demo-key warning); a problem on a line of its own."""
        s = self.settings
        line = Text(no_wrap=True, overflow="ellipsis", end="")
        if self.attach:
            line.append(_("◉ attached (no listener)"), style="bold cyan")
        elif self.listener_state == "listening" and self.listener is not None:
            where = f"http://{s.host}:{self.listener.port}"
            line.append(_("● listening {where}").format(where=where), style="bold green")
        else:
            line.append(f"○ {_(STATES.get(self.listener_state, self.listener_state))}", style="bold red")
        if s.uses_demo_key:
            line.append(" ")
            line.append("\u00a0" + _("DEMO KEY").replace(" ", "\u00a0") + "\u00a0", style="bold black on yellow")
        database = _("(not configured)") if self.config_error else display_url(s.database_url)
        context = projects_header.projects_text(s)
        line.append(f" │ {header_mark()} │ {context} │ {s.timezone} │ {database}")
        widget = self.query_one("#status-line", Static)
        line.truncate(widget.content_size.width or self.size.width - 2, overflow="ellipsis")
        if self.key_note:
            line = Text.assemble(line, "\n", (self.key_note, "bold yellow"), end="")
        if self.problem:
            line = Text.assemble(line, "\n", (self.problem, "bold red"), end="")
        widget.update(line)

    def on_resize(self) -> None:
        with contextlib.suppress(NoMatches):  # before the first compose there is no header yet
            self.update_status()  # the line is cut to the width


def run_console(settings: Settings, *, attach: bool = False, config_error: str | None = None) -> int:
    app = Kassa24App(settings, attach=attach, config_error=config_error)
    result = app.run()
    return result or 0
