"""The console's language: switched at once from the palette (no restart), shown in the header.

The words that stay on screen once drawn (tab labels, the status line) are drawn again in the
new language here; the catalog does the rest as the panes refresh."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult, SystemCommand
from textual.widgets import Footer, Static, TabbedContent
from textual.widgets._footer import FooterKey

from .. import i18n
from ..i18n import N_, _
from .panes import ListPane
from .said import say_again
from .tail import header_of
from .traffic import TrafficPane

TABS = {
    "traffic": N_("Traffic"),
    "contracts": N_("Contracts"),
    "callbacks": N_("Callbacks"),
    "mismatches": N_("Mismatches"),
    "alerts": N_("Alerts"),
}
SHORT = {"ru": "RU", "kk": "KK", "en": "EN"}
# Textual's own words that reach the screen: the palette's key in the footer and the system
# commands of the palette (translated where they are shown, like our bindings).
TEXTUAL = (
    N_("palette"),
    N_("Open the command palette"),
    N_("Theme"),
    N_("Change the current theme"),
    N_("Keys"),
    N_("Hide the keys and widget help panel"),
    N_("Show help for the focused widget and a summary of available keys"),
    N_("Minimize"),
    N_("Minimize the widget and restore to normal size"),
    N_("Maximize"),
    N_("Maximize the focused widget"),
    N_("Screenshot"),
    N_("Save an SVG 'screenshot' of the current screen"),
)


class Words(Footer):
    """The footer in the operator's language: bindings keep their English descriptions (the
    catalog's keys, ``N_``-marked where they are declared) and are translated as the footer
    is drawn, so a live switch of the language re-describes every key at once."""

    _drawn: tuple[Any, ...] | None = None  # what the keys said when last composed

    def _keys(self) -> tuple[Any, ...]:
        """What the footer would show: its keys (as displayed), descriptions, states, language."""
        shown = tuple(
            (binding.action, self.app.get_key_display(binding), binding.description, enabled, tooltip)
            for (_node, binding, enabled, tooltip) in self.screen.active_bindings.values()
            if binding.show
        )
        return (i18n.current_language(), self.compact, shown)

    async def recompose(self) -> None:
        """Only when the keys changed: focus leaving one table and reaching the next each
        asked for one, so a pane switch rebuilt the footer twice, ~10 ms each (issue 24)."""
        if not self.is_attached:
            return
        keys = self._keys()
        if keys == self._drawn and self.children:
            return
        self._drawn = keys
        await super().recompose()

    def compose(self) -> ComposeResult:
        for widget in super().compose():
            if isinstance(widget, FooterKey):
                widget.description = _(widget.description) if widget.description else ""
                if widget.tooltip:
                    widget.tooltip = _(str(widget.tooltip))
            yield widget


def tab_label(tab: str) -> str:
    return _(TABS[tab])


def header_mark() -> str:
    """What the header says about the language: ``RU Русский``."""
    language = i18n.current_language()
    return f"{SHORT[language]} {i18n.NAMES[language]}"


def switch(app: Any, language: str) -> None:
    """Make ``language`` the console's at once: tabs, header and every pane drawn again."""
    i18n.set_language(language)
    app.settings.language = language
    if app.listener is not None:  # its process sends the alerts: in this language from now on
        app.run_worker(app.listener.speak(language), group="language")
    tabs = app.query_one(TabbedContent)
    for tab in TABS:
        tabs.get_tab(tab).label = tab_label(tab)
    for pane in app.query(ListPane):
        pane.relabel()
    say_again(app)
    for traffic in app.query(TrafficPane):
        traffic.redraw()
    app.call_later(app.refresh_all)  # the rows' words, and where each list is, drawn again
    for traffic in app.query(TrafficPane):
        app.query_one("#traffic-header", Static).update(header_of(traffic.columns()))
    app.update_status()
    app.refresh_bindings()
    for footer in app.query(Words):
        footer.refresh(recompose=True)  # the keys described again, in the new language
    app.refresh(layout=True)


def commands(app: Any) -> list[SystemCommand]:
    """One palette command per language, each named in its own language too."""
    found = []
    for language in i18n.LANGUAGES:
        title = _("Language: {name}").format(name=i18n.NAMES[language])
        found.append(
            SystemCommand(title, _("Switch the console's language at once"), lambda lang=language: switch(app, lang))
        )
    return found
