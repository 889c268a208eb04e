"""The words a person reads for what the store keeps as English keys: kinds of finding,
sides, statuses and states, suggested actions; kinds of history, fields, entities and
actors of the audit. Machine outputs (``--json``, logs, the database) keep the keys; these
turn them into the glossary's words where they are shown (docs/glossary.md).

Below the service and the tools: the payment's story, the console, reconciliation and the
audit command all speak through here (moved from ``reconcile/words.py`` and ``audit.py``,
which still re-export their names).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from .findings import ACTIONS, Thresholds, action_for
from .i18n import N_, _, ngettext
from .money import format_money

if TYPE_CHECKING:
    from .store.rows import MismatchRow

FINDING_KINDS = {
    "bad_signature": N_("bad signature"),
    "invalid_amount": N_("invalid amount"),
    "unknown_payment": N_("unknown payment"),
    "wrong_project": N_("another project's payment"),
    "amount_mismatch": N_("amount differs"),
    "currency_mismatch": N_("currency differs"),
    "customer_mismatch": N_("customer differs"),
    "conflicting_status": N_("conflicting status"),
    "callback_overdue": N_("callback overdue"),
    "deposit_expired": N_("deposit expired"),
    "report_unknown_payment": N_("operation without a deposit"),
    "missing_in_report": N_("missing from the platform's record"),
    "status_differs": N_("status differs"),
    "duplicate_operation": N_("duplicate operation"),
    "monthly_limit": N_("monthly limit exceeded"),
    "overpaid": N_("overpaid"),
    "likely_retry": N_("likely a retry"),
}
WORDS = {
    "ours": N_("ours"),
    "platform": N_("platform"),
    "paid": N_("paid"),
    "pending": N_("pending"),
    "failed": N_("failed"),
    "closed": N_("closed"),
    "success": N_("success"),
    "decline": N_("decline"),
    "expired": N_("expired"),
    "error": N_("error"),
    "cancelled": N_("cancelled"),
    "processing": N_("processing"),
    "refunded": N_("refunded"),
    "open": N_("open"),
    "resolved": N_("resolved"),
    "auto-closed": N_("auto-closed"),
    "before": N_("before"),
    "after": N_("after"),
    "to": N_("to"),
    "from": N_("from"),
}


def kind_name(kind: str) -> str:
    """``amount_mismatch`` → ``расхождение суммы``; in English (no translation) the kind's own
    key, as ``--json``, ``--resolve`` and the log name it."""
    if kind not in FINDING_KINDS:
        return kind
    translated = _(FINDING_KINDS[kind])
    return kind if translated == FINDING_KINDS[kind] else translated


def word(value: str) -> str:
    """A side, status or state from the store in the operator's words (else as it is)."""
    return _(WORDS[value]) if value in WORDS else value


def action_text(row: MismatchRow, limits: Thresholds | None = None) -> str:
    """A finding's suggested action in the operator's language, saying the thresholds in
    force (``limits``; the stored English when its kind has no action of ours)."""
    if row.kind in ACTIONS:
        return action_for(row.kind, row.payment_id, row.evidence, words=_, limits=limits)
    return row.action or ""


# --- the audit's history -----------------------------------------------------------------

MONEY_FIELDS = frozenset({"payment", "min_payment", "credit"})
# The stored keys of the history (English in the database, --json and --format csv) as a
# person reads them in the table and the console.
HISTORY_KINDS = {
    "edit": N_("edit"),
    "payment": N_("payment"),
    "import": N_("import"),
    "resolve": N_("resolve"),
    "reopen": N_("reopen"),
    "sign_off": N_("sign-off"),
    "correction": N_("correction"),
    "acknowledge": N_("acknowledge"),
}
FIELDS = {
    "payment": N_("amount due"),
    "min_payment": N_("minimum payment"),
    "credit": N_("credit balance"),
    "status_code": N_("status code"),
    "status_text": N_("status text"),
    "state": N_("state"),
    "created": N_("created"),
    "name": N_("name"),
    "number": N_("number"),
    "customer_id": N_("customer"),
    "additional_customer_id": N_("additional id"),
    "info": N_("info"),
    "rows": N_("rows"),
    "signed_off": N_("signed off"),
    "acked": N_("acknowledged"),
}
ENTITIES = {
    "contract": N_("contract"),
    "account": N_("account"),
    "deposit": N_("payment"),
    "mismatch": N_("mismatch"),
    "period": N_("period"),
    "import": N_("import"),
    "alert": N_("alert"),
}
# Who, when it is the program itself (an operator is named by their login).
ACTORS = {
    "platform": N_("platform"),
    "reconcile": N_("reconciliation"),
    "demo": N_("demo data"),
    "simulator": N_("simulator"),
}
# Notes the program itself writes (an operator's own note is shown as written).
NOTES = (N_("the evidence changed"), N_("no longer found by reconciliation"))
_IMPORTED = re.compile(r"(\d+) accounts, (\d+) contracts")


def shown(field: str, value: str | None) -> str:
    """A stored value as people read it (money in tenge, a state in words, nothing as a dash)."""
    if value is None:
        return "–"
    if field in MONEY_FIELDS and value.lstrip("-").isdigit():
        return format_money(int(value))
    if field == "state":
        return word(value)
    if field == "acked" and value == "yes":
        return _("yes")
    if field == "rows" and (counted := _IMPORTED.fullmatch(value)):
        accounts, contracts = int(counted[1]), int(counted[2])
        return ", ".join(
            (
                ngettext("{n} account", "{n} accounts", accounts).format(n=accounts),
                ngettext("{n} contract", "{n} contracts", contracts).format(n=contracts),
            )
        )
    return value


def _named(words: dict[str, str], key: str) -> str:
    """``key`` in the operator's words; in English (no translation) the stored key itself, as
    ``--format json`` and ``csv`` name it."""
    if key not in words:
        return key
    translated = _(words[key])
    return key if translated == words[key] else translated


def audit_kind(kind: str) -> str:
    """A kind of history in the operator's words (``edit`` → ``правка``)."""
    return _named(HISTORY_KINDS, kind)


def field_word(field: str) -> str:
    return _named(FIELDS, field)


def entity_word(entity: str) -> str:
    return _named(ENTITIES, entity)


def actor_word(actor: str | None) -> str:
    """``platform`` (a callback credited it) → ``платформа``; a person's login as it is."""
    return _named(ACTORS, actor or "")


def note_text(note: str | None) -> str:
    """A note as written; one the program wrote, in the operator's language."""
    return _(note) if note in NOTES else (note or "")
