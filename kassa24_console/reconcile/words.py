"""The words of reconciliation a person reads: kinds of finding, sides, statuses, and the
suggested action of a finding, in the operator's language.

The store keeps kinds and actions in English (stable keys, machine outputs); these turn
them into the glossary's words where they are shown (docs/glossary.md)."""

from __future__ import annotations

from typing import Any

from ..findings import ACTIONS, Thresholds, action_for
from ..i18n import N_, _

KINDS = {
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
    if kind not in KINDS:
        return kind
    translated = _(KINDS[kind])
    return kind if translated == KINDS[kind] else translated


def word(value: str) -> str:
    """A side, status or state from the store in the operator's words (else as it is)."""
    return _(WORDS[value]) if value in WORDS else value


def action_text(row: Any, limits: Thresholds | None = None) -> str:
    """A finding's suggested action in the operator's language, saying the thresholds in
    force (``limits``; the stored English when its kind has no action of ours)."""
    if row.kind in ACTIONS:
        return action_for(row.kind, row.payment_id, row.evidence, words=_, limits=limits)
    return str(row.action or "")
