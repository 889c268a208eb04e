"""Getting around the console: a pane by its key, the help (F1, ``?``) made from the
bindings in force, and the command palette. Mixed into :class:`.app.Kassa24App`."""

from __future__ import annotations

from typing import Any

from textual import work
from textual.app import SystemCommand
from textual.screen import Screen
from textual.widgets import TabbedContent

from ..config import Settings
from ..i18n import _
from .alerts import AlertsPane
from .keys import help_markdown
from .language import commands as language_commands
from .messages import NewAccount, NewContract
from .mismatches import MismatchesPane
from .panes import CallbacksPane, ContractsPane
from .screens import HelpScreen
from .traffic import TrafficPane

TABLES = {
    "traffic": "#traffic-table",
    "contracts": "#contracts-table",
    "callbacks": "#callbacks-table",
    "mismatches": "#mismatches-table",
    "alerts": "#alerts-table",
}
# Each pane's scope in the help, as its second column names it.
SCOPES = (
    ("traffic", TrafficPane),
    ("contracts", ContractsPane),
    ("callbacks", CallbacksPane),
    ("mismatches", MismatchesPane),
    ("alerts", AlertsPane),
)


class Navigation:
    # The app's own, used here.
    settings: Settings
    screen: Any
    query_one: Any
    query: Any
    push_screen: Any
    post_message: Any
    action_quit: Any
    action_restart_listener: Any

    def action_show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        self.query_one(TABLES[tab]).focus()

    def action_help(self) -> None:
        """The keys as they are bound now (a keymap's keys, not the defaults), and more."""
        scopes: list[tuple[str, list[Any]]] = [("anywhere", [self])]
        scopes += [(scope, list(self.query(pane).results(pane))) for scope, pane in SCOPES]
        self.push_screen(HelpScreen(help_markdown(self, scopes, self.settings)))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "hide_help_panel":  # Esc closes the keys panel, and only then is it ours
            return bool(self.screen.query("HelpPanel"))
        return True

    def get_system_commands(self, screen: Screen[Any]) -> Any:
        # misc: a mixin of App (mixed into Kassa24App): its super() is App only at run time.
        for command in super().get_system_commands(screen):  # type: ignore[misc]
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
        self.post_message(NewAccount())

    def _palette_new_contract(self) -> None:
        self.action_show_tab("contracts")
        current = self.query_one(ContractsPane).selected()
        self.post_message(NewContract(current.customer_id if current else ""))

    @work(exclusive=True, group="reconcile")
    async def _palette_reconcile(self) -> None:
        self.action_show_tab("mismatches")
        await self.query_one(MismatchesPane).action_reconcile()

    @work(exclusive=True, group="restart")
    async def _palette_restart(self) -> None:
        await self.action_restart_listener()


def known_binding_ids(app_class: type) -> set[str]:
    """Every binding id the console defines: what a keymap may name."""
    from .screens import ConfirmScreen, DetailScreen, _Form
    from .tail import TailView

    classes = (app_class, *(pane for _scope, pane in SCOPES), TailView, DetailScreen, HelpScreen, _Form)
    classes += (ConfirmScreen,)
    return {b.id for cls in classes for b in getattr(cls, "BINDINGS", []) if getattr(b, "id", None)}
