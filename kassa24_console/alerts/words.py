"""The alerts' words a person reads: rule names, titles, events, in the operator's language.

The store keeps an alert's rule, title and events in English (stable keys: ``alerts list
--format json``, the log, a second process reading the same database); the title is one of
the rules' fixed sentences below, so it is translated wherever it is shown or sent. The body
is written in the operator's language when the alert is evaluated (:mod:`.rules`).
"""

from __future__ import annotations

from ..i18n import N_, _, pgettext

RULE_NAMES = {
    "signature_failures": N_("signature failures"),
    "callback_overdue": N_("callbacks overdue"),
    "callbacks_silent": N_("no callbacks"),
    "errors": N_("errors"),
    "writes_failing": N_("database writes"),
    "new_findings": N_("new mismatches"),
}
TITLES = (
    N_("Database writes are failing"),
    N_("Requests fail the signature"),
    N_("Callbacks are overdue"),
    N_("No callbacks arrive"),
    N_("Requests are failing"),
    N_("New findings involve money"),
)
EVENTS = {"fired": N_("fired"), "repeat": N_("repeat")}


def rule_name(rule: str) -> str:
    """``signature_failures`` → ``сбои подписи``; in English the rule's own key."""
    if rule not in RULE_NAMES:
        return rule
    translated = _(RULE_NAMES[rule])
    return rule if translated == RULE_NAMES[rule] else translated


def title_text(title: str) -> str:
    """A stored title in the operator's language (as stored when it is none of the rules')."""
    return _(title) if title in TITLES else title


def event_word(event: str) -> str:
    if event == "resolved":
        return pgettext("alert", "resolved")
    return _(EVENTS[event]) if event in EVENTS else event
