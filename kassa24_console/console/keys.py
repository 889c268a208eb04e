"""The help (F1), its table of keys made from the bindings in force: every key a pane answers to is
listed (a hand-written table had fallen behind), under the key a keymap gave it."""

from __future__ import annotations

from typing import Any

from textual.binding import Binding

from ..config import Settings
from ..i18n import N_, _
from ..store import display_url

HELP = N_("""\
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

## Alerts

The Alerts pane (`!`) lists the active alerts first, then the recent ones: since when, which
rule, what it says and which channels got it. Acknowledge one with a note (`x`): it is not
repeated until it resolves.

## Files

Log file: `{log_file}`

Database: `{database}`
""")


def help_markdown(app: Any, scopes: list[tuple[str, list[type]]], settings: Settings) -> str:
    """The help (F1): the keys in force, the filter syntax, status codes, where the files are."""
    keys = keys_markdown(app, scopes, settings.keymap or {}, several=settings.several)
    return _(HELP).format(keys=keys, log_file=settings.log_file, database=display_url(settings.database_url))


# Enter is each list's own (the table's "select"), so it carries no binding of the pane.
ENTER = {
    "traffic": N_("raw request and our response"),
    "contracts": N_("edit status code, amount due, minimum"),
    "callbacks": N_("raw callback, our answer, the deposit"),
    "mismatches": N_("the evidence and the suggested action"),
    "alerts": N_("the message and its deliveries"),
}
# Where a key works, as the help's second column says it.
WHERE = {
    "anywhere": N_("anywhere"),
    "traffic": N_("traffic"),
    "contracts": N_("contracts"),
    "callbacks": N_("callbacks"),
    "mismatches": N_("mismatches"),
    "alerts": N_("alerts"),
}


def keys_markdown(
    app: Any, scopes: list[tuple[str, list[type]]], keymap: dict[str, str], *, several: bool = False
) -> str:
    """A Markdown table: keys, where, what; one row per action of each scope's bindings
    (a binding's tooltip, when it has one, says more than its footer label). The project
    filter's key only where there are several projects."""
    heading = (_("key"), _("where"), _("what"))
    rows = ["| {} | {} | {} |".format(*heading), "|---|---|---|"]
    for scope, classes in scopes:
        where = _(WHERE[scope]) if scope in WHERE else scope
        if scope in ENTER:
            rows.append(f"| `Enter` | {where} | {_(ENTER[scope])} |")
        actions: dict[str, tuple[list[str], str]] = {}
        for cls in classes:
            for binding in getattr(cls, "BINDINGS", []):
                if not isinstance(binding, Binding) or not binding.description:
                    continue
                if binding.action == "cycle_project" and not several:
                    continue
                keys = keymap.get(binding.id, binding.key) if binding.id else binding.key
                shown = [f"`{_display(app, binding, key.strip())}`" for key in keys.split(",")]
                known, what = actions.get(binding.action, ([], _(binding.tooltip or binding.description)))
                actions[binding.action] = ([*known, *shown], what)
        rows += [f"| {' '.join(keys)} | {where} | {what} |" for keys, what in actions.values()]
    lists = _("every list"), _("first row, last row, a page up or down")
    rows.append(f"| `Home` `End` `PgUp` `PgDn` | {lists[0]} | {lists[1]} |")
    return "\n".join(rows)


def _display(app: Any, binding: Binding, key: str) -> str:
    return app.get_key_display(Binding(key, binding.action, binding.description, key_display=binding.key_display))
