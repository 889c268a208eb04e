"""Findings: the type of a disagreement, its kinds, their suggested actions and the
constructors of those the payment path raises live.

It sits at the bottom, beside the store: the callbacks on the payment path, reconciliation
above the service and the demo history all build and describe findings from here, so none
of them reaches up (or late) into another for it. Each finding has a stable ``key``, so
finding the same thing again (live or by reconciliation) is one record.

The texts of the actions say the thresholds they depend on as configured
(:class:`Thresholds`, read from the settings named in ``config.RECONCILE_THRESHOLDS``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from babel.units import format_unit

from .config import RECONCILE_THRESHOLDS, Settings
from .i18n import N_, current_locale
from .money import format_money, to_major

MINUTE_US = 60_000_000
DAY_US = 24 * 60 * MINUTE_US

ACTIONS = {
    "bad_signature": N_("Check the secret key and the sender: the platform signs every callback."),
    "invalid_amount": N_(
        "A success callback with an amount that is not a positive integer: nothing was credited; "
        "ask the platform for the real amount."
    ),
    "unknown_payment": N_("We never issued this payment id: ask the platform which merchant it belongs to."),
    "wrong_project": N_(
        "A callback names another project than the one the payment id was issued in: nothing was credited; "
        "ask the platform."
    ),
    "amount_mismatch": N_("Compare the amounts with the platform before crediting or refunding by hand."),
    "currency_mismatch": N_("The currencies differ: ask the platform; nothing was credited automatically."),
    "customer_mismatch": N_("The platform records another customer: check the account was credited correctly."),
    "conflicting_status": N_("Ask the platform for the final status; the first final status stays applied."),
    "callback_overdue": N_(
        "No callback yet past the basic time of {warning}: check the platform's record; if it "
        "shows the payment: reconcile --credit-deposit {payment_id} --operation ID --note …"
    ),
    "deposit_expired": N_(
        "No callback within the threshold of {expiry}: the platform has declined this payment: "
        "reconcile --close-deposit {payment_id} --note …"
    ),
    "report_unknown_payment": N_("The platform has an operation we have no deposit for: ask which account it was for."),
    "missing_in_report": N_("We credited a payment the platform's record does not show: ask the platform."),
    "status_differs": N_(
        "The platform's status differs from ours: if it shows a success we have pending: "
        "reconcile --credit-deposit {payment_id} --operation {operation_id} --note …"
    ),
    "duplicate_operation": N_("More than one successful operation for one payment: ask the platform to refund one."),
    "monthly_limit": N_("The customer's payments this month exceed the provider limit of {limit}."),
    "overpaid": N_(
        "Paid more than was due: the excess is the contract's credit balance; refund it to the payer "
        "or carry it to the next bill, then resolve this with a note."
    ),
    "likely_retry": N_(
        "Same customer, contract and amount within {retry}, only one paid: a platform retry: "
        "reconcile --close-deposit {payment_id} --note …"
    ),
}

# Kinds only reconciliation finds; it may close them again when the records agree.
RULE_KINDS = frozenset(ACTIONS) - {"unknown_payment", "wrong_project", "bad_signature", "invalid_amount", "overpaid"}

STORED_LOCALE = "en_US"  # actions are stored in English (machine output); screens translate


class Thresholds(NamedTuple):
    """The reconciliation thresholds, one field per setting in ``config.RECONCILE_THRESHOLDS``
    (same names): what the rules compare ages with and what the actions' texts say."""

    callback_warning_seconds: int
    callback_expiry_days: int
    retry_window_seconds: int

    @classmethod
    def of(cls, settings: Settings) -> Thresholds:
        return cls(**{name: getattr(settings, name) for name in RECONCILE_THRESHOLDS})

    @classmethod
    def default(cls) -> Thresholds:
        """The settings' defaults (for a caller with no settings at hand)."""
        return cls(**{name: Settings.model_fields[name].default for name in RECONCILE_THRESHOLDS})


def duration(seconds: int, locale: str) -> str:
    """``60`` → ``1 minute`` / ``1 минута``; whole minutes as minutes, else seconds."""
    if seconds and seconds % 60 == 0:
        return format_unit(seconds // 60, "duration-minute", locale=locale)
    return format_unit(seconds, "duration-second", locale=locale)


def action_for(
    kind: str,
    payment_id: str | None,
    evidence: Any,
    words: Callable[[str], str] | None = None,
    limits: Thresholds | None = None,
) -> str:
    """The suggested action for a finding, in English as stored, or translated by ``words``
    (``i18n._`` on screens) with its numbers in the operator's locale; ``limits`` are the
    thresholds in force (the settings' defaults when not given)."""
    limits = limits or Thresholds.default()
    locale = STORED_LOCALE if words is None else current_locale()
    facts = evidence if isinstance(evidence, dict) else {}
    limit = facts.get("limit")
    values = {
        "payment_id": payment_id or "",
        "operation_id": facts.get("operation_id", "ID"),
        "warning": duration(limits.callback_warning_seconds, locale),
        "expiry": format_unit(limits.callback_expiry_days, "duration-day", locale=locale),
        "retry": duration(limits.retry_window_seconds, locale),
        "limit": _limit(limit, stored=words is None) if isinstance(limit, int) else "?",
    }
    text = ACTIONS[kind] if words is None else words(ACTIONS[kind])
    return text.format(**values)


def _limit(minor: int, *, stored: bool) -> str:
    """The provider's limit (KZT): ``12,500,000.00 KZT`` as stored, else in the operator's locale."""
    return f"{to_major(minor):,.2f} KZT" if stored else format_money(minor, "KZT")


@dataclass
class Finding:
    """A disagreement: its identity (``key``) and ``evidence`` are facts (states, amounts,
    statuses), never an age, so a resolved finding stays resolved until a fact changes."""

    kind: str
    key: str
    payment_id: str | None
    evidence: dict[str, Any]
    amount: int = 0
    occurred_at: int | None = None  # when the fact happened: which period it belongs to
    project_id: int | None = None  # the project it is about (None: none, or not known)
    # The thresholds it was found with (they are said in its action, never part of the facts).
    limits: Thresholds | None = field(default=None, compare=False, repr=False)

    @property
    def action(self) -> str:
        """What to do, naming the command that does it where there is one (stored in English)."""
        return action_for(self.kind, self.payment_id, self.evidence, limits=self.limits)

    def flag_args(self) -> dict[str, Any]:
        """Keyword arguments for ``store.queries.flag``: the service and the engine record
        findings the same way, so a live flag and a reconciliation finding are one record."""
        return {
            "key": self.key,
            "kind": self.kind,
            "payment_id": self.payment_id,
            "evidence": self.evidence,
            "action": self.action,
            "occurred_at": self.occurred_at,
            "project_id": self.project_id,
        }


# --- findings the listener also raises live: one constructor each, one key each ---------


def money(amount: Any, currency: Any) -> dict[str, Any]:
    """An amount and its currency as evidence."""
    return {"amount": amount, "currency": currency}


def unknown_payment(payment_id: str, status: str | None, amount: int | None, at: int | None = None) -> Finding:
    """A callback for a payment id we never issued."""
    evidence = {"callback": {"payment_id": payment_id, "status": status, "amount": amount}}
    return Finding("unknown_payment", f"unknown_payment:{payment_id}", payment_id, evidence, amount or 0, at)


def wrong_project(payment_id: str, issued_in: int, claimed: int, status: str | None, at: int) -> Finding:
    """A signed callback of one project for a payment id issued in another."""
    evidence = {"issued_in": issued_in, "callback_project": claimed, "status": status}
    return Finding("wrong_project", f"wrong_project:{payment_id}:{claimed}", payment_id, evidence, 0, at, issued_in)


def money_mismatch(deposit: Any, amount: int | None, currency: str | None, source: str) -> Finding | None:
    """The currency, else the amount, that ``source`` ("callback" or "report") records
    differently from the deposit; None when they agree."""
    if (currency is None or currency == deposit.currency) and (amount is None or amount == deposit.amount):
        return None  # the usual answer, a hundred thousand times a month: no evidence made
    pid = deposit.payment_id
    suffix = "" if source == "callback" else f":{source}"
    evidence = {"deposit": money(deposit.amount, deposit.currency), source: money(amount, currency)}
    at = deposit.created_at
    if currency is not None and currency != deposit.currency:
        return Finding("currency_mismatch", f"currency_mismatch:{pid}{suffix}", pid, evidence, deposit.amount, at)
    if amount is not None and amount != deposit.amount:
        difference = abs(amount - deposit.amount)
        return Finding("amount_mismatch", f"amount_mismatch:{pid}{suffix}", pid, evidence, difference, at)
    return None


def conflicting_status(
    payment_id: str, deposit_state: str | None, statuses: Iterable[str | None], amount: int, at: int | None = None
) -> Finding:
    """More than one final status for one payment."""
    evidence = {"deposit_state": deposit_state, "callback_statuses": sorted({s for s in statuses if s})}
    return Finding("conflicting_status", f"conflicting_status:{payment_id}", payment_id, evidence, amount, at)


def bad_signature(peer: str, window: str, payment_id: str | None, digest: str) -> Finding:
    """Callbacks whose signature does not verify, one finding per peer and hour (found live
    only): the first one's payment id and hash are the evidence; the store counts the rest."""
    evidence = {"peer": peer, "hour": window, "first_payment_id": payment_id, "first_sha256": digest}
    return Finding("bad_signature", f"bad_signature:{peer}:{window}", payment_id, evidence)


def invalid_amount(payment_id: str, amount: int | None, at: int | None = None) -> Finding:
    """A success callback whose amount is not a positive integer of minor units (live only)."""
    evidence = {"callback": {"payment_id": payment_id, "status": "success", "amount": amount}}
    return Finding("invalid_amount", f"invalid_amount:{payment_id}", payment_id, evidence, 0, at)


def overpaid(payment_id: str, excess: dict[str, Any], at: int | None = None) -> Finding:
    """A payment larger than what was due on its contract: ``excess`` says the contract,
    what was due, what was paid and the credit kept (found when the money is credited)."""
    return Finding("overpaid", f"overpaid:{payment_id}", payment_id, dict(excess), excess["credit"], at)
