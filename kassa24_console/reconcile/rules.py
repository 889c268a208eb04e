"""The rules: three records in, typed mismatches out. Pure: no I/O, no clock of its own.

Each finding (``findings.Finding``) has a stable ``key``, so running the rules again finds
the same thing once, and live findings of the service (same keys) are the same records.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ..findings import (
    DAY_US,
    Finding,
    Thresholds,
    conflicting_status,
    money_mismatch,
    unknown_payment,
)
from ..findings import money as _money
from ..protocol.codes import FAILED_STATUSES, SUCCESS, outcome
from ..store.periods import PeriodCallback, PeriodDeposit, PeriodOperation
from .usual import one_callback_agrees, one_operation_agrees


@dataclass
class Records:
    """What the rules compare: the period's rows as the store reads them (:mod:`..store.periods`)."""

    deposits: list[PeriodDeposit]
    callbacks: list[PeriodCallback]
    operations: list[PeriodOperation]
    start: int
    end: int
    now: int
    # Days (YYYY-MM-DD in the zone) for which the platform's record was applied: only there
    # is a deposit missing from it a finding.
    covered_days: frozenset[str] = frozenset()
    limits: Thresholds = field(default_factory=Thresholds.default)
    # Deposits made within the retry window before or after the period: a retry split by
    # midnight has its other half there.
    neighbours: list[PeriodDeposit] = field(default_factory=list)


SALE_TYPES = frozenset({"", "sale", "purchase"})


def day_start(day: date, zone: ZoneInfo) -> int:
    """Midnight starting ``day`` in ``zone``, as UTC microseconds."""
    return int(datetime.combine(day, time.min, zone).timestamp() * 1e6)


def local_day(at: int, zone: ZoneInfo) -> str:
    """The day (YYYY-MM-DD in ``zone``) a moment in UTC microseconds falls on."""
    return datetime.fromtimestamp(at / 1e6, zone).date().isoformat()


def _final(status: str | None) -> str | None:
    return outcome(status or "")


def find(records: Records, zone: ZoneInfo) -> list[Finding]:
    s = records.limits
    deposits = {d.payment_id: d for d in records.deposits}
    start, end = records.start, records.end
    in_period = [d for d in records.deposits if start <= d.created_at < end]
    callbacks: dict[str, list[PeriodCallback]] = defaultdict(list)
    for cb in records.callbacks:
        if cb.signature_ok and cb.payment_id:
            callbacks[cb.payment_id].append(cb)
    sales = [op for op in records.operations if op.type in SALE_TYPES]  # a refund is not a second sale
    operations: dict[str | None, list[PeriodOperation]] = defaultdict(list)
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
    # A retry's other half may lie across midnight: the pairs are found with the neighbours,
    # each finding kept by the period of its unpaid deposit.
    pairs = _likely_retries([*in_period, *records.neighbours], s)
    retries = [f for f in pairs if f.occurred_at is not None and start <= f.occurred_at < end]
    # A likely retry is also overdue; say it once, as the more useful of the two.
    retried = {f.payment_id for f in retries}
    return [f for f in findings if not (f.kind == "callback_overdue" and f.payment_id in retried)] + retries


def _unknown_payments(
    callbacks: dict[str, list[PeriodCallback]], deposits: dict[str, PeriodDeposit]
) -> Iterable[Finding]:
    for payment_id, received in callbacks.items():
        if payment_id not in deposits:
            yield unknown_payment(payment_id, received[0].status, received[0].amount, received[0].received_at)


def _deposit_vs_callbacks(
    deposit: PeriodDeposit, received: list[PeriodCallback], records: Records, s: Thresholds
) -> Iterable[Finding]:
    if len(received) == 1:  # the usual case: one callback can neither conflict nor repeat
        only = received[0]
        if only.status == SUCCESS and (mismatch := money_mismatch(deposit, only.amount, only.currency, "callback")):
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
        if age > s.callback_expiry_days * DAY_US:
            yield Finding(
                "deposit_expired",
                f"deposit_expired:{pid}",
                pid,
                {"deposit": _money(deposit.amount, deposit.currency), "state": deposit.state},
                deposit.amount,
                deposit.created_at,
                limits=s,
            )
        elif age > s.callback_warning_seconds * 1_000_000:
            yield Finding(
                "callback_overdue",
                f"callback_overdue:{pid}",
                pid,
                {"deposit": _money(deposit.amount, deposit.currency), "state": deposit.state},
                deposit.amount,
                deposit.created_at,
                limits=s,
            )


_REPORT_STATE = {SUCCESS: "paid", **dict.fromkeys(FAILED_STATUSES, "failed")}


def _deposit_vs_report(deposit: PeriodDeposit, recorded: list[PeriodOperation]) -> Iterable[Finding]:
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


def _report_without_deposit(
    operations: list[PeriodOperation], deposits: dict[str, PeriodDeposit], records: Records
) -> Iterable[Finding]:
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


def retry_pairs(deposits: list[PeriodDeposit], limits: Thresholds) -> Iterable[tuple[PeriodDeposit, PeriodDeposit]]:
    """(unpaid, paid): deposits of the same customer, contract and amount within the retry
    window of each other, of which exactly one was paid: the platform asked again and paid
    the second (or first) one; the unpaid ones are likely retries."""
    window_us = limits.retry_window_seconds * 1_000_000
    # A retry is a pending deposit beside a paid one: only the groups of pending ones matter.
    pending = {(d.customer_id, d.contract_id, d.amount) for d in deposits if d.state == "pending"}
    if not pending:
        return
    groups: dict[tuple[Any, ...], list[PeriodDeposit]] = defaultdict(list)
    for d in sorted(deposits, key=lambda d: d.created_at):
        key = (d.customer_id, d.contract_id, d.amount)
        if key in pending:
            groups[key].append(d)
    for group in groups.values():
        if len(group) < 2:
            continue
        cluster: list[PeriodDeposit] = []
        for next_one in [*group, None]:
            if next_one is not None and cluster and next_one.created_at - cluster[-1].created_at <= window_us:
                cluster.append(next_one)
                continue
            paid = [c for c in cluster if c.state == "paid"]
            if len(cluster) > 1 and len(paid) == 1:
                yield from ((other, paid[0]) for other in cluster if other.state == "pending")
            cluster = [next_one] if next_one is not None else []


def _likely_retries(deposits: list[PeriodDeposit], limits: Thresholds) -> Iterable[Finding]:
    for other, paid in retry_pairs(deposits, limits):
        yield Finding(
            "likely_retry",
            f"likely_retry:{other.payment_id}",
            other.payment_id,
            {
                "paid": paid.payment_id,
                "customer_id": other.customer_id,
                "contract_id": other.contract_id,
                "amount": other.amount,
            },
            other.amount,
            other.created_at,
            limits=limits,
        )
