"""The console's language: switched at once from the palette (no restart), shown in the header.

The words that stay on screen once drawn (tab labels, the status line) are drawn again in the
new language here; the catalog does the rest as the panes refresh."""

from __future__ import annotations

from typing import Any

from textual.app import SystemCommand
from textual.widgets import Static, TabbedContent

from .. import i18n
from ..i18n import N_, _
from .panes import ListPane
from .tail import header_of
from .traffic import COLUMNS

TABS = {
    "traffic": N_("Traffic"),
    "contracts": N_("Contracts"),
    "callbacks": N_("Callbacks"),
    "mismatches": N_("Mismatches"),
    "alerts": N_("Alerts"),
}
SHORT = {"ru": "RU", "kk": "KK", "en": "EN"}


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
    tabs = app.query_one(TabbedContent)
    for tab in TABS:
        tabs.get_tab(tab).label = tab_label(tab)
    for pane in app.query(ListPane):
        pane.relabel()
    app.query_one("#traffic-header", Static).update(header_of(COLUMNS))
    app.update_status()
    app.refresh_bindings()
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
