"""The operator console: a Textual app that starts the listener in a process of its own and
supervises it (:mod:`..embedded`), and reads the database through a store of its own, as
``--attach`` does."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Sparkline, Static, TabbedContent, TabPane

from .. import alerts, i18n
from ..config import Settings
from ..embedded import EmbeddedListener
from ..i18n import N_, _, ngettext
from ..listener import ListenError
from ..reasons import part_text
from ..runtime import DEMO_KEY_WARNING, StartupError, make_store, open_store
from ..store import Store, display_url
from ..zones import zone as time_zone
from . import projects_header
from .alerts import AlertsPane
from .keys import help_markdown
from .language import Words, header_mark, tab_label
from .language import commands as language_commands
from .mismatches import MismatchesPane
from .panes import CallbacksPane, ContractsPane
from .rates import RATE_MINUTES, Rates, counters_text
from .screens import ConfirmScreen, HelpScreen, steady
from .story import show_story
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


class Kassa24App(App[int]):
    """The console. Panes read the store; the listener writes it."""

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
        self.config_error = config_error
        self.settings = settings
        if settings.language:
            i18n.set_language(settings.language)
        self.attach = attach
        self.live = live
        self.zone = time_zone(settings.timezone)
        self.listener: EmbeddedListener | None = None  # the listener, in its own process
        self.store: Store | None = None  # the console's own store (reads, operator's edits)
        self.alerter: alerts.Alerter | None = None  # attached only: with a listener, its process alerts
        self.alert_count: int | None = None  # active alerts last shown: more rings the bell
        self.listener_state = "starting"
        self.problem = ""
        self.key_note: str | None = None  # a previous key still in use near its end
        self.exit_code = 0  # what the process exits with: non-zero when it could not start
        self.rates = Rates()
        self.unknown_keys = sorted(set(settings.keymap) - known_binding_ids()) if settings.keymap else []
        if settings.keymap:
            self.set_keymap(settings.keymap)

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        with TabbedContent(initial="traffic", id="tabs"):
            with TabPane(tab_label("traffic"), id="traffic"):
                yield TrafficPane(id="traffic-pane")
            with TabPane(tab_label("contracts"), id="contracts"):
                yield ContractsPane(id="contracts-pane")
            with TabPane(tab_label("callbacks"), id="callbacks"):
                yield CallbacksPane(id="callbacks-pane")
            with TabPane(tab_label("mismatches"), id="mismatches"):
                yield MismatchesPane(id="mismatches-pane")
            with TabPane(tab_label("alerts"), id="alerts"):
                yield AlertsPane(id="alerts-pane")
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

    # --- lifecycle -------------------------------------------------------------------------

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
        if self.alerter is not None:
            await self.alerter.close()
            self.alerter = None
        if self.listener is not None:
            await self.listener.close()
            self.listener = None
        if self.store is not None:
            await self.store.close()
            self.store = None
        self.exit(self.exit_code)

    def check_listener(self) -> None:
        """The header tells the truth when the listener stopped by itself."""
        if self.listener_state == "listening" and self.listener is not None and not self.listener.running:
            self.listener_state = "stopped"
            self.problem = _("the listener stopped — see the log file; ctrl+r to restart")
            self.update_status()

    # --- refresh ---------------------------------------------------------------------------

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
        for pane in self.query(TrafficPane).results(TrafficPane):  # none once the app is closing
            await pane.poll()

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

    # --- navigation, help, palette ---------------------------------------------------------

    def action_show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        table_id = {
            "traffic": "#traffic-table",
            "contracts": "#contracts-table",
            "callbacks": "#callbacks-table",
            "mismatches": "#mismatches-table",
            "alerts": "#alerts-table",
        }[tab]
        self.query_one(table_id).focus()

    async def show_story(self, payment_id: str | None) -> None:
        """One payment's story, in order (the same from every pane)."""
        await show_story(self, payment_id)

    def action_help(self) -> None:
        scopes: list[tuple[str, list[type]]] = [
            ("anywhere", [Kassa24App]),
            ("traffic", [TrafficPane]),
            ("contracts", [ContractsPane]),
            ("callbacks", [CallbacksPane]),
            ("mismatches", [MismatchesPane]),
            ("alerts", [AlertsPane]),
        ]
        self.push_screen(HelpScreen(help_markdown(self, scopes, self.settings)))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "hide_help_panel":  # Esc closes the keys panel, and only then is it ours
            return bool(self.screen.query("HelpPanel"))
        return True

    def get_system_commands(self, screen: Screen[Any]) -> Any:
        for command in super().get_system_commands(screen):
            if command.title == "Quit":  # ours waits for in-flight requests: say so
                command = SystemCommand(
                    _("Quit"), _("Stop the listener once in-flight requests are answered, then quit"), self.action_quit
                )
            else:
                command = SystemCommand(_(command.title), _(command.help), command.callback, command.discover)
            yield command
        yield SystemCommand(
            _("Traffic"),
            _("Show incoming verify, check_deposit and callbacks"),
            lambda: self.action_show_tab("traffic"),
        )
        yield SystemCommand(_("Contracts"), _("Search and edit contracts"), lambda: self.action_show_tab("contracts"))
        yield SystemCommand(_("Callbacks"), _("Callback results"), lambda: self.action_show_tab("callbacks"))
        yield SystemCommand(
            _("Mismatches"), _("What needs an operator's look"), lambda: self.action_show_tab("mismatches")
        )
        yield SystemCommand(_("Alerts"), _("Active and recent alerts"), lambda: self.action_show_tab("alerts"))
        yield SystemCommand(_("Reconcile today"), _("Run the reconciliation rules over today"), self._palette_reconcile)
        yield SystemCommand(_("New account"), _("Add a customer account"), self._palette_new_account)
        yield SystemCommand(_("New contract"), _("Add a contract to an account"), self._palette_new_contract)
        yield SystemCommand(_("Restart listener"), _("Stop and start the HTTP listener"), self._palette_restart)
        yield SystemCommand(_("Help"), _("Keys, filter syntax, log file"), self.action_help)
        yield from language_commands(self)

    def _palette_new_account(self) -> None:
        self.action_show_tab("contracts")
        self.query_one(ContractsPane).action_new_account()

    def _palette_new_contract(self) -> None:
        self.action_show_tab("contracts")
        self.query_one(ContractsPane).action_new_contract()

    @work(exclusive=True, group="reconcile")
    async def _palette_reconcile(self) -> None:
        self.action_show_tab("mismatches")
        await self.query_one(MismatchesPane).action_reconcile()

    @work(exclusive=True, group="restart")
    async def _palette_restart(self) -> None:
        await self.action_restart_listener()


def known_binding_ids() -> set[str]:
    """Every binding id the console defines: what a keymap may name."""
    from .screens import DetailScreen, HelpScreen, _Form
    from .tail import TailView

    classes = (Kassa24App, TrafficPane, ContractsPane, CallbacksPane, MismatchesPane, AlertsPane, TailView)
    classes += (DetailScreen,)
    return {
        b.id for cls in (*classes, HelpScreen, _Form) for b in getattr(cls, "BINDINGS", []) if getattr(b, "id", None)
    }


def run_console(settings: Settings, *, attach: bool = False, config_error: str | None = None) -> int:
    app = Kassa24App(settings, attach=attach, config_error=config_error)
    result = app.run()
    return result or 0
