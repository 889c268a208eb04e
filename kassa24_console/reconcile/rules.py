"""The rules: three records in, typed mismatches out. Pure: no I/O, no clock of its own.

Each finding has a stable ``key``, so running the rules again finds the same thing once,
and live findings of the service (same keys) are the same records.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ..i18n import N_
from ..protocol.codes import FAILED_STATUSES, SUCCESS, outcome
from .usual import one_callback_agrees, one_operation_agrees

MINUTE_US = 60_000_000
DAY_US = 24 * 60 * MINUTE_US

ACTIONS = {
    "bad_signature": N_("Check the secret key and the sender: the platform signs every callback."),
    "invalid_amount": N_(
        "A success callback with an amount that is not a positive integer: nothing was credited; "
        "ask the platform for the real amount."
    ),
    "unknown_payment": N_("We never issued this payment id: ask the platform which merchant it belongs to."),
    "amount_mismatch": N_("Compare the amounts with the platform before crediting or refunding by hand."),
    "currency_mismatch": N_("The currencies differ: ask the platform; nothing was credited automatically."),
    "customer_mismatch": N_("The platform records another customer: check the account was credited correctly."),
    "conflicting_status": N_("Ask the platform for the final status; the first final status stays applied."),
    "callback_overdue": N_(
        "No callback yet past the basic time of 1 minute: check the platform's record; if it "
        "shows the payment: reconcile --credit-deposit {payment_id} --operation ID --note …"
    ),
    "deposit_expired": N_(
        "No callback past the 36-day threshold: the platform has declined this payment: "
        "reconcile --close-deposit {payment_id} --note …"
    ),
    "report_unknown_payment": N_("The platform has an operation we have no deposit for: ask which account it was for."),
    "missing_in_report": N_("We credited a payment the platform's record does not show: ask the platform."),
    "status_differs": N_(
        "The platform's status differs from ours: if it shows a success we have pending: "
        "reconcile --credit-deposit {payment_id} --operation {operation_id} --note …"
    ),
    "duplicate_operation": N_("More than one successful operation for one payment: ask the platform to refund one."),
    "monthly_limit": N_("The customer's payments this month exceed the provider limit of 12,500,000.00 KZT."),
    "overpaid": N_(
        "Paid more than was due: the excess is the contract's credit balance; refund it to the payer "
        "or carry it to the next bill, then resolve this with a note."
    ),
    "likely_retry": N_(
        "Same customer, contract and amount within seconds, only one paid: a platform retry: "
        "reconcile --close-deposit {payment_id} --note …"
    ),
}


def action_for(kind: str, payment_id: str | None, evidence: Any, words: Any = None) -> str:
    """The suggested action for a finding; ``words`` translates it (``i18n._`` on screens)."""
    operation = evidence.get("operation_id", "ID") if isinstance(evidence, dict) else "ID"
    text = ACTIONS[kind] if words is None else words(ACTIONS[kind])
    return text.format(payment_id=payment_id or "", operation_id=operation)


# Kinds only reconciliation finds; it may close them again when the records agree.
RULE_KINDS = frozenset(ACTIONS) - {"unknown_payment", "bad_signature", "invalid_amount", "overpaid"}


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

    @property
    def action(self) -> str:
        """What to do, naming the command that does it where there is one (stored in English)."""
        return action_for(self.kind, self.payment_id, self.evidence)

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
        }


# --- findings the listener also raises live: one constructor each, one key each ---------


def _money(amount: Any, currency: Any) -> dict[str, Any]:
    return {"amount": amount, "currency": currency}


def unknown_payment(payment_id: str, status: str | None, amount: int | None, at: int | None = None) -> Finding:
    """A callback for a payment id we never issued."""
    evidence = {"callback": {"payment_id": payment_id, "status": status, "amount": amount}}
    return Finding("unknown_payment", f"unknown_payment:{payment_id}", payment_id, evidence, amount or 0, at)


def money_mismatch(deposit: Any, amount: int | None, currency: str | None, source: str) -> Finding | None:
    """The currency, else the amount, that ``source`` ("callback" or "report") records
    differently from the deposit; None when they agree."""
    if (currency is None or currency == deposit.currency) and (amount is None or amount == deposit.amount):
        return None  # the usual answer, a hundred thousand times a month: no evidence made
    pid = deposit.payment_id
    suffix = "" if source == "callback" else f":{source}"
    evidence = {"deposit": _money(deposit.amount, deposit.currency), source: _money(amount, currency)}
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


@dataclass
class Records:
    """What the rules compare; rows need attribute access (SQLAlchemy rows or namespaces)."""

    deposits: list[Any]
    callbacks: list[Any]
    operations: list[Any]
    start: int
    end: int
    now: int
    # Days (YYYY-MM-DD in the zone) for which the platform's record was applied: only there
    # is a deposit missing from it a finding.
    covered_days: frozenset[str] = frozenset()
    settings: dict[str, Any] = field(default_factory=dict)


SALE_TYPES = frozenset({"", "sale", "purchase"})
REVERSAL_TYPES = frozenset({"refund", "reversal", "reverse", "chargeback", "cancel"})


def day_start(day: date, zone: ZoneInfo) -> int:
    """Midnight starting ``day`` in ``zone``, as UTC microseconds."""
    return int(datetime.combine(day, time.min, zone).timestamp() * 1e6)


def local_day(at: int, zone: ZoneInfo) -> str:
    """The day (YYYY-MM-DD in ``zone``) a moment in UTC microseconds falls on."""
    return datetime.fromtimestamp(at / 1e6, zone).date().isoformat()


def _final(status: str | None) -> str | None:
    return outcome(status or "")


def find(records: Records, zone: ZoneInfo) -> list[Finding]:
    s = records.settings
    deposits = {d.payment_id: d for d in records.deposits}
    start, end = records.start, records.end
    in_period = [d for d in records.deposits if start <= d.created_at < end]
    callbacks: dict[str, list[Any]] = defaultdict(list)
    for cb in records.callbacks:
        if cb.signature_ok and cb.payment_id:
            callbacks[cb.payment_id].append(cb)
    sales = [op for op in records.operations if op.type in SALE_TYPES]  # a refund is not a second sale
    operations: dict[str, list[Any]] = defaultdict(list)
    for op in sales:
        operations[op.payment_id].append(op)
    findings: list[Finding] = []
    findings += _unknown_payments(callbacks, deposits)
    covered = _day_spans(records.covered_days, zone)
    # A day the platform's record covers whole (the usual part): no deposit of it needs asking.
    whole = any(first <= start and end <= last for first, last in covered)
    for deposit in in_period:
        pid = deposit.payment_id
        received = callbacks.get(pid, [])
        if len(received) != 1 or not one_callback_agrees(deposit, received[0]):
            findings += _deposit_vs_callbacks(deposit, received, records, s)
        if whole or any(first <= deposit.created_at < last for first, last in covered):
            recorded = operations.get(pid, [])
            if len(recorded) != 1 or not one_operation_agrees(deposit, recorded[0]):
                findings += _deposit_vs_report(deposit, recorded)
    findings += _report_without_deposit(sales, deposits, records)
    retries = list(_likely_retries(in_period, s.get("retry_window_seconds", 120)))
    # A likely retry is also overdue; say it once, as the more useful of the two.
    retried = {f.payment_id for f in retries}
    return [f for f in findings if not (f.kind == "callback_overdue" and f.payment_id in retried)] + retries


def _unknown_payments(callbacks: dict[str, list[Any]], deposits: dict[str, Any]) -> Iterable[Finding]:
    for payment_id, received in callbacks.items():
        if payment_id not in deposits:
            yield unknown_payment(payment_id, received[0].status, received[0].amount, received[0].received_at)


def _deposit_vs_callbacks(deposit: Any, received: list[Any], records: Records, s: dict[str, Any]) -> Iterable[Finding]:
    if len(received) == 1:  # the usual case: one callback can neither conflict nor repeat
        paid = received[0]
        if paid.status == SUCCESS and (mismatch := money_mismatch(deposit, paid.amount, paid.currency, "callback")):
            yield mismatch
        return
    pid = deposit.payment_id
    finals = sorted({f for f in (_final(cb.status) for cb in received) if f})
    if len(finals) > 1:
        yield conflicting_status(pid, deposit.state, (cb.status for cb in received), deposit.amount, deposit.created_at)
    successes = {cb.operation_id for cb in received if cb.status == SUCCESS}
    if len(successes) > 1:
        yield Finding(
            "duplicate_operation",
            f"duplicate_operation:{pid}",
            pid,
            {"successful_operations": sorted(str(o) for o in successes)},
            deposit.amount,
            deposit.created_at,
        )
    paid = next((cb for cb in received if cb.status == SUCCESS), None)
    if paid is not None and (mismatch := money_mismatch(deposit, paid.amount, paid.currency, "callback")):
        yield mismatch
    if not received and deposit.state == "pending":
        age = records.now - deposit.created_at
        expiry = s.get("callback_expiry_days", 36) * DAY_US
        if age > expiry:
            yield Finding(
                "deposit_expired",
                f"deposit_expired:{pid}",
                pid,
                {"deposit": _money(deposit.amount, deposit.currency), "state": deposit.state},
                deposit.amount,
                deposit.created_at,
            )
        elif age > s.get("callback_warning_seconds", 60) * 1_000_000:
            yield Finding(
                "callback_overdue",
                f"callback_overdue:{pid}",
                pid,
                {"deposit": _money(deposit.amount, deposit.currency), "state": deposit.state},
                deposit.amount,
                deposit.created_at,
            )


_REPORT_STATE = {SUCCESS: "paid", **dict.fromkeys(FAILED_STATUSES, "failed")}


def _deposit_vs_report(deposit: Any, recorded: list[Any]) -> Iterable[Finding]:
    pid = deposit.payment_id
    if not recorded:
        if deposit.state == "paid":
            yield Finding(
                "missing_in_report",
                f"missing_in_report:{pid}",
                pid,
                {"deposit": _money(deposit.paid_amount or deposit.amount, deposit.currency)},
                deposit.paid_amount or deposit.amount,
                deposit.created_at,
            )
        return
    successes = [op for op in recorded if op.status == SUCCESS]
    if len(successes) > 1:
        yield Finding(
            "duplicate_operation",
            f"duplicate_operation:{pid}:report",
            pid,
            {"report_operations": sorted(op.operation_id for op in successes)},
            deposit.amount,
            deposit.created_at,
        )
    op = successes[0] if successes else recorded[-1]
    theirs = _REPORT_STATE.get(op.status, "pending")
    if theirs != deposit.state and (theirs, deposit.state) != ("failed", "closed"):  # closed: we agree it failed
        yield Finding(
            "status_differs",
            f"status_differs:{pid}",
            pid,
            {"ours": deposit.state, "report": op.status, "operation_id": op.operation_id},
            deposit.amount,
            deposit.created_at,
        )
    if mismatch := money_mismatch(deposit, op.amount, op.currency, "report"):
        yield mismatch
    if op.customer_id and op.customer_id != deposit.customer_id:
        yield Finding(
            "customer_mismatch",
            f"customer_mismatch:{pid}",
            pid,
            {"ours": deposit.customer_id, "report": op.customer_id},
            deposit.amount,
            deposit.created_at,
        )


def _report_without_deposit(operations: list[Any], deposits: dict[str, Any], records: Records) -> Iterable[Finding]:
    for op in operations:
        if op.payment_id not in deposits and (op.created_at is None or records.start <= op.created_at < records.end):
            yield Finding(
                "report_unknown_payment",
                f"report_unknown_payment:{op.operation_id}",
                op.payment_id,
                {
                    "report": {
                        "operation_id": op.operation_id,
                        "payment_id": op.payment_id,
                        "status": op.status,
                        **_money(op.amount, op.currency),
                    }
                },
                op.amount or 0,
                op.created_at,
            )


def _day_spans(days: frozenset[str], zone: ZoneInfo) -> list[tuple[int, int]]:
    """Each day (YYYY-MM-DD in ``zone``) as ``[start, end)`` in UTC µs: comparing numbers
    is cheaper than finding the day of every deposit."""
    spans = []
    for day in sorted(date.fromisoformat(text) for text in days):
        spans.append((day_start(day, zone), day_start(day + timedelta(days=1), zone)))
    return spans


def monthly_limit(totals: dict[tuple[str, str], int], limit: int, at: int) -> list[Finding]:
    """Customers whose paid total of a month is over the provider's limit (``totals``: each
    customer's paid total per month, YYYY-MM, that the store summed: a month of deposits is
    far more than a day's, so :func:`find` does not see them)."""
    return list(_monthly_limit(totals, limit, at))


def _monthly_limit(totals: dict[tuple[str, str], int], limit: int, at: int) -> Iterable[Finding]:
    for (customer, month), total in sorted(totals.items()):
        if total > limit:
            yield Finding(
                "monthly_limit",
                f"monthly_limit:{customer}:{month}",
                None,
                {"customer_id": customer, "month": month, "paid": total, "limit": limit},
                total - limit,
                at,
            )


def _likely_retries(deposits: list[Any], window_seconds: int) -> Iterable[Finding]:
    # A retry is a pending deposit beside a paid one: only the groups of pending ones matter.
    pending = {(d.customer_id, d.contract_id, d.amount) for d in deposits if d.state == "pending"}
    if not pending:
        return
    groups: dict[tuple[Any, ...], list[Any]] = defaultdict(list)
    for d in sorted(deposits, key=lambda d: d.created_at):
        key = (d.customer_id, d.contract_id, d.amount)
        if key in pending:
            groups[key].append(d)
    for group in groups.values():
        if len(group) < 2:
            continue
        cluster: list[Any] = []
        for d in [*group, None]:
            if d is not None and cluster and d.created_at - cluster[-1].created_at <= window_seconds * 1_000_000:
                cluster.append(d)
                continue
            paid = [c for c in cluster if c.state == "paid"]
            if len(cluster) > 1 and len(paid) == 1:
                for other in cluster:
                    if other.state == "pending":
                        yield Finding(
                            "likely_retry",
                            f"likely_retry:{other.payment_id}",
                            other.payment_id,
                            {
                                "paid": paid[0].payment_id,
                                "customer_id": other.customer_id,
                                "contract_id": other.contract_id,
                                "amount": other.amount,
                            },
                            other.amount,
                            other.created_at,
                        )
            cluster = [d] if d is not None else []
