"""The help (F1), its table of keys made from the bindings in force: every key a pane answers to is
listed (a hand-written table had fallen behind), under the key the app's keymap gives it now."""

from __future__ import annotations

from typing import Any

from textual.binding import Binding
from textual.dom import DOMNode

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


def help_markdown(app: Any, scopes: list[tuple[str, list[DOMNode]]], settings: Settings) -> str:
    """The help (F1): the keys in force, the filter syntax, status codes, where the files are."""
    keys = keys_markdown(app, scopes)
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


def in_force(app: Any, node: DOMNode) -> list[tuple[str, list[str]]]:
    """The node's actions with a description and the keys bound to each, as Textual
    dispatches keys: under the app's keymap now in force (``App.set_keymap``, the config's
    ``keymap``), and only those its ``check_action`` allows (the project filter's key only
    with several projects). In the order declared, the node's own class first; each action
    said by its tooltip when it has one, else its description."""
    declared = [b for cls in type(node).__mro__ for b in Binding.make_bindings(cls.__dict__.get("BINDINGS", []))]
    rank: dict[tuple[str, str], int] = {}
    label: dict[str, str] = {}  # the footer's label, for an action without a tooltip
    tooltip: dict[str, str] = {}  # says more than the label
    for index, binding in enumerate(declared):
        rank.setdefault((binding.id or binding.key, binding.action), index)
        if binding.description:
            label.setdefault(binding.action, binding.description)
            if binding.tooltip:
                tooltip.setdefault(binding.action, binding.tooltip)
    applied = node._bindings.copy()  # what Screen._binding_chain does before dispatching a key
    applied.apply_keymap(app._keymap)
    bound = sorted(applied, key=lambda pair: rank.get((pair[1].id or pair[0], pair[1].action), len(declared)))
    keys: dict[str, list[str]] = {}
    for key, binding in bound:
        if binding.action in label and node.check_action(binding.action, ()) is not False:
            keys.setdefault(binding.action, []).append(_display(app, binding, key))
    return [(tooltip.get(action) or label[action], shown) for action, shown in keys.items()]


def keys_markdown(app: Any, scopes: list[tuple[str, list[DOMNode]]]) -> str:
    """A Markdown table: keys, where, what; one row per action of each scope's bindings in
    force (a binding's tooltip, when it has one, says more than its footer label)."""
    heading = (_("key"), _("where"), _("what"))
    rows = ["| {} | {} | {} |".format(*heading), "|---|---|---|"]
    for scope, nodes in scopes:
        where = _(WHERE[scope]) if scope in WHERE else scope
        if scope in ENTER:
            rows.append(f"| `Enter` | {where} | {_(ENTER[scope])} |")
        for node in nodes:
            for what, keys in in_force(app, node):
                rows.append(f"| {' '.join(f'`{key}`' for key in keys)} | {where} | {_(what)} |")
    lists = _("every list"), _("first row, last row, a page up or down")
    rows.append(f"| `Home` `End` `PgUp` `PgDn` | {lists[0]} | {lists[1]} |")
    return "\n".join(rows)


def _display(app: Any, binding: Binding, key: str) -> str:
    return app.get_key_display(Binding(key, binding.action, binding.description, key_display=binding.key_display))
