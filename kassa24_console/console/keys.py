"""The help (F1), its table of keys made from the bindings in force: every key a pane answers to is
listed (a hand-written table had fallen behind), under the key a keymap gave it."""

from __future__ import annotations

from typing import Any

from textual.binding import Binding

from ..config import Settings
from ..store import display_url

HELP = """\
# kassa24-console

The merchant side of Kassa24 Terminal payments: the listener answers the platform's
**verify** and **check_deposit** requests and receives its **callbacks**; this console shows
what the store holds, live.

## Keys

{keys}

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


def help_markdown(app: Any, scopes: list[tuple[str, list[type]]], settings: Settings) -> str:
    """The help (F1): the keys in force, the filter syntax, status codes, where the files are."""
    keys = keys_markdown(app, scopes, settings.keymap or {})
    return HELP.format(keys=keys, log_file=settings.log_file, database=display_url(settings.database_url))


# Enter is each list's own (the table's "select"), so it carries no binding of the pane.
ENTER = {
    "traffic": "raw request and our response",
    "contracts": "edit status code, amount due, minimum",
    "callbacks": "raw callback, our answer, the deposit",
    "mismatches": "the evidence and the suggested action",
}
LISTS = "`Home` `End` `PgUp` `PgDn` | every list | first row, last row, a page up or down"


def keys_markdown(app: Any, scopes: list[tuple[str, list[type]]], keymap: dict[str, str]) -> str:
    """A Markdown table: keys, where, what; one row per action of each scope's bindings
    (a binding's tooltip, when it has one, says more than its footer label)."""
    rows = ["| key | where | what |", "|---|---|---|"]
    for where, classes in scopes:
        if where in ENTER:
            rows.append(f"| `Enter` | {where} | {ENTER[where]} |")
        actions: dict[str, tuple[list[str], str]] = {}
        for cls in classes:
            for binding in getattr(cls, "BINDINGS", []):
                if not isinstance(binding, Binding) or not binding.description:
                    continue
                keys = keymap.get(binding.id, binding.key) if binding.id else binding.key
                shown = [f"`{_display(app, binding, key.strip())}`" for key in keys.split(",")]
                known, what = actions.get(binding.action, ([], binding.tooltip or binding.description))
                actions[binding.action] = ([*known, *shown], what)
        rows += [f"| {' '.join(keys)} | {where} | {what} |" for keys, what in actions.values()]
    rows.append(f"| {LISTS} |")
    return "\n".join(rows)


def _display(app: Any, binding: Binding, key: str) -> str:
    return app.get_key_display(Binding(key, binding.action, binding.description, key_display=binding.key_display))
