"""The operator console: Textual app with the listener embedded in the same asyncio loop."""

from __future__ import annotations

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
from textual.widgets import Footer, Sparkline, Static, TabbedContent, TabPane

from .. import alerts, i18n, timeline
from ..config import Settings
from ..i18n import _
from ..listener import ListenError
from ..runtime import DEMO_KEY_WARNING, Runtime, StartupError
from ..store import Store, display_url
from ..store import queries as q
from ..zones import zone as time_zone
from . import format as fmt
from .alerts import AlertsPane
from .language import commands as language_commands
from .language import header_mark, tab_label
from .mismatches import MismatchesPane
from .panes import CallbacksPane, ContractsPane
from .rates import RATE_MINUTES, Rates, counters_text
from .screens import ConfirmScreen, DetailScreen, HelpScreen, steady
from .traffic import TrafficPane

log = logging.getLogger(__name__)


HELP = """\
# kassa24-console

The merchant side of Kassa24 Terminal payments: the listener answers the platform's
**verify** and **check_deposit** requests and receives its **callbacks**; this console shows
what the store holds, live.

## Keys

| key | where | what |
|---|---|---|
| `t` `c` `b` `m` `!` | anywhere | Traffic, Contracts, Callbacks, Mismatches, Alerts |
| `/` | traffic, contracts | filter / search |
| `End` | traffic | follow new rows again (scrolling up pauses) |
| `[` | traffic | page back to older rows |
| `Enter` | traffic | raw request and our response |
| `Enter`, `e` | contracts | edit status code, amount due, minimum |
| `n`, `a` | contracts | new contract, new account |
| `h` | contracts | the contract's history: edits, payments credited, imports, corrections |
| `s` | traffic, callbacks, mismatches, contracts | the payment's story, in order (a contract's: its latest payment) |
| `Enter` | mismatches | the evidence and the suggested action |
| `x`, `o`, `v`, `r` | mismatches | resolve with a note, reopen, show resolved, reconcile today |
| `k`, `p` | mismatches | close the unpaid deposit; credit it on the platform's operation (both with a note) |
| `Enter`, `x` | alerts | the message and its deliveries; acknowledge with a note |
| `ctrl+r` | anywhere | restart the listener |
| `ctrl+p` | anywhere | command palette |
| `F1` | anywhere | this help |
| `q`, `ctrl+q` | anywhere | quit (in-flight requests finish first) |

## Traffic filter

Terms are combined: `kind:verify` `kind:check` `code:500` `customer:7012` `contract:C-1`
`sig:bad`; any other word matches the raw request or response.

## Status codes

`0` lets the customer pay. Any other code forbids payment and the terminal shows the
platform's preset text for that code; the *status text* is for you and your colleagues.
Changes apply to the very next verify and are kept in the audit log with your user name.

## Files

Log file: `{log_file}`

Database: `{database}`
"""


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
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True, id="app.quit_ctrl"),
        Binding("f1", "help", "Help", id="app.help"),
        Binding("t", "show_tab('traffic')", "Traffic", show=False, id="app.traffic"),
        Binding("c", "show_tab('contracts')", "Contracts", show=False, id="app.contracts"),
        Binding("b", "show_tab('callbacks')", "Callbacks", show=False, id="app.callbacks"),
        Binding("m", "show_tab('mismatches')", "Mismatches", show=False, id="app.mismatches"),
        Binding("exclamation_mark", "show_tab('alerts')", "Alerts", show=False, id="app.alerts"),
        Binding("ctrl+r", "restart_listener", "Restart listener", id="app.restart"),
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
        self.runtime: Runtime | None = None
        self.alerter: alerts.Alerter | None = None
        self.alert_count: int | None = None  # active alerts last shown: more rings the bell
        self.store: Store | None = None
        self.listener_state = "starting"
        self.problem = ""
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
        yield Footer()

    async def on_mount(self) -> None:
        self.theme = self.theme or "textual-dark"
        if self.config_error:
            self.problem = f"{self.config_error} — fix the configuration and start again (q quits)"
            self.listener_state = "not started"
            self.exit_code = 2
            self.update_status()
            return
        await self.open_store()
        if not self.attach:
            if problem := self.settings.key_problem():
                self.problem, self.listener_state, self.exit_code = f"{problem} (q quits)", "not started", 2
            else:
                await self.start_listener()
        if warning := self.settings.key_warning():
            self.notify(warning, severity="warning", timeout=10)
        if self.unknown_keys:
            shown = ", ".join(self.unknown_keys)
            log.warning("keymap: unknown binding ids %s", shown)
            self.notify(f"keymap: no binding with the id {shown} (F1 lists the keys)", severity="error", timeout=15)
        self.update_status()
        await self.refresh_all()
        if self.live:
            self.set_interval(0.25, self._closing_safe(self._tick_traffic))
            self.set_interval(1.0, self._closing_safe(self._tick_panes))
            self.set_interval(2.0, self._closing_safe(self._tick_rates))
        self.query_one("#traffic-table").focus()
        steady(self.screen)

    # --- lifecycle -------------------------------------------------------------------------

    async def open_store(self) -> None:
        runtime = Runtime(self.settings)
        try:
            await runtime.open(demo=not self.attach)  # attached: never loads anything into it
        except StartupError as error:
            self.problem, self.listener_state, self.exit_code = str(error), "stopped", 1
            self.update_status()
            return
        self.exit_code = 0
        self.runtime, self.store = runtime, runtime.store
        if self.settings.alert_urls and self.live:  # without channels: only shows what others send
            self.alerter = alerts.start(runtime)
        if self.settings.uses_demo_key:
            log.warning(DEMO_KEY_WARNING)

    async def start_listener(self) -> None:
        if self.runtime is None:
            return
        try:
            await self.runtime.listener.start()
        except ListenError as error:
            self.problem = f"{error} — ctrl+r to retry"
            self.listener_state = "stopped"
        else:
            self.problem = ""
            self.listener_state = "listening"
            self.runtime.start_pruning()
        self.update_status()

    async def action_restart_listener(self) -> None:
        if self.config_error:
            self.notify("The configuration is invalid: fix it and start again.", severity="error")
            return
        if self.attach:
            self.notify("Attached mode: there is no listener here.", severity="warning")
            return
        if self.runtime is None:
            await self.open_store()
        if self.runtime is None:
            return
        in_flight = self.runtime.listener.in_flight
        if in_flight:
            question = f"{in_flight} request(s) in flight: they finish first, new ones wait. Restart the listener?"
            self.push_screen(ConfirmScreen(question), self._restart_if_confirmed)
            return
        await self._restart()

    async def _restart_if_confirmed(self, confirmed: bool | None) -> None:
        if confirmed:
            await self._restart()

    async def _restart(self) -> None:
        assert self.runtime is not None
        await self.runtime.listener.stop()
        await self.start_listener()
        if self.listener_state == "listening":
            self.notify(f"Listening on port {self.runtime.listener.port}.")

    async def action_quit(self) -> None:
        """Stop accepting, let in-flight requests finish, commit, restore the terminal."""
        self.listener_state = "stopping"
        self.update_status()
        if self.alerter is not None:
            await self.alerter.close()
            self.alerter = None
        if self.runtime is not None:
            await self.runtime.close()
            self.runtime = self.store = None
        self.exit(self.exit_code)

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

    def update_status(self) -> None:
        s = self.settings
        line = Text()
        if self.attach:
            line.append(_("◉ attached (no listener)"), style="bold cyan")
        elif self.listener_state == "listening" and self.runtime is not None:
            where = f"http://{s.host}:{self.runtime.listener.port}"
            line.append(_("● listening {where}").format(where=where), style="bold green")
        else:
            line.append(f"○ {self.listener_state}", style="bold red")
        database = _("(not configured)") if self.config_error else display_url(s.database_url)
        context = _("project {project} │ option {option}").format(project=s.project_id, option=s.response_option)
        line.append(f"  │ {context} │ {s.timezone} │ {database} │ {header_mark()}")
        if s.uses_demo_key:
            line.append("  │ ", style="")
            line.append(" DEMO KEY ", style="bold black on yellow")
        if self.problem:
            line.append("\n")
            line.append(self.problem, style="bold red")
        self.query_one("#status-line", Static).update(line)

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
        if not payment_id or self.store is None:
            self.notify("No payment here: the story is a payment's.", severity="warning")
            return
        events = await self.store.scan(lambda c: timeline.story(c, payment_id))
        if not events:
            self.notify(f"Nothing is recorded about {payment_id}.", severity="warning")
            return
        lines = [f"{fmt.at_text(e.at, self.zone, with_date=True).plain}  {e.what:<13} {e.detail}" for e in events]
        deposit = await self.store.read(q.deposit, payment_id)
        summary = (
            "no deposit of ours"
            if deposit is None
            else (
                f"customer {deposit.customer_id}\ncontract {deposit.contract_id or '–'}\n"
                f"amount {fmt.money(deposit.amount, deposit.currency).plain}\nstate {deposit.state}"
            )
        )
        self.push_screen(DetailScreen(f"Payment {payment_id}", "\n".join(lines), summary, ("Story", "The payment")))

    def action_help(self) -> None:
        self.push_screen(
            HelpScreen(HELP.format(log_file=self.settings.log_file, database=display_url(self.settings.database_url)))
        )

    def get_system_commands(self, screen: Screen[Any]) -> Any:
        yield from super().get_system_commands(screen)
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
