"""What a callback does to the store: one transaction each, idempotent, money only by cause.

Idempotent by (payment.id, operation.id, operation.status, project): a repeat only counts a
delivery. A deposit moves out of ``pending`` once (a conditional update decides, so two
processes cannot both credit it); a later, different final status is kept and flagged.
Only a positive integer amount credits, and never more than the deposit asked for.
Money never crosses projects: a callback settles only a deposit of the project it names.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection

from . import findings
from .protocol import codes
from .protocol.messages import Callback
from .store import now_us
from .store import queries as q
from .store.pg_hot import HotTransaction, SettleRefused
from .store.rows import DepositRow


def apply(connection: Connection, callback: Callback, raw: str) -> str:
    """Store a signed callback and apply it to its deposit once; return the outcome."""
    at = now_us()
    callback_id, deliveries = q.record_callback(connection, _record(callback, raw, at))
    if deliveries > 1:
        return "duplicate"
    outcome, deposit_id = _settle(connection, callback, at)
    q.set_callback_outcome(connection, callback_id, outcome, deposit_id)
    return outcome


def _record(callback: Callback, raw: str, at: int) -> dict[str, Any]:
    """The callback's row, as first stored."""
    payment, operation, money = callback.payment, callback.operation, callback.money
    return {
        "project_id": callback.project_id,
        "received_at": at,
        "last_received_at": at,
        "deliveries": 1,
        # With its project: a callback claiming another project never blocks the real one.
        "dedupe_key": f"{payment.id}|{operation.id}|{operation.status}|{callback.project_id}",
        "signature_ok": True,
        "payment_id": payment.id,
        "operation_id": operation.id,
        "status": payment.status,
        "operation_status": operation.status,
        "amount": money.amount if money else None,
        "currency": money.currency if money else None,
        "customer_id": callback.customer_id,
        "outcome": "",
        "raw": raw,
    }


async def apply_hot(tx: HotTransaction, callback: Callback, raw: str) -> str | None:
    """The common case on PostgreSQL's hot path: a final status for a pending deposit that
    agrees with it (currency; amount and a positive one for a payment). None for anything
    else (an unknown payment, a mismatch, a repeat), which :func:`apply` decides in full."""
    payment, money = callback.payment, callback.money
    target = codes.outcome(payment.status)
    if target is None:
        return None
    at = now_us()
    amount = money.amount if money is not None and target == "paid" else None
    row = _record(callback, raw, at) | {"outcome": "applied", "deposit_id": payment.id}
    settled = await tx.settle(payment.id, target, amount, money.currency if money else None, row)
    if settled is None:  # nothing written: not pending, or the callback disagrees with it
        return None
    if settled.deliveries > 1:
        raise SettleRefused  # stored before without settling it: the full rules say why
    if target == "paid" and settled.contract_id:
        tx.credit(callback.project_id, settled.contract_id, settled.amount, at, payment.id)
    return "applied"


def _settle(connection: Connection, callback: Callback, at: int) -> tuple[str, str | None]:
    payment, money = callback.payment, callback.money
    deposit = q.deposit(connection, payment.id)
    if deposit is None:
        found = findings.unknown_payment(payment.id, payment.status, money.amount if money else None, at)
        found.project_id = callback.project_id
        q.flag(connection, **found.flag_args(), at=at)
        return "unknown_payment", None
    if deposit.project_id != callback.project_id:  # issued in another project: nothing moves
        found = findings.wrong_project(payment.id, deposit.project_id, callback.project_id, payment.status, at)
        q.flag(connection, **found.flag_args(), at=at)
        return "wrong_project", None
    project = deposit.project_id
    # A callback for a deposit of a period already signed off reopens it (a no-op otherwise).
    q.reopen_signed(
        connection, deposit.created_at, f"a callback ({payment.status}) arrived for {payment.id}", at, project
    )
    target = codes.outcome(payment.status)
    if target is None:
        return "recorded", deposit.payment_id
    if money is not None and money.currency != deposit.currency:
        mismatch = findings.money_mismatch(deposit, money.amount, money.currency, "callback")
        if mismatch is not None:
            q.flag(connection, **mismatch.flag_args() | {"project_id": project}, at=at)
        return "conflict", deposit.payment_id
    paid = None
    if target == "paid":
        paid = money.amount if money is not None else deposit.amount
        if paid <= 0:  # only positive money moves: kept and flagged, nothing credited
            found = findings.invalid_amount(deposit.payment_id, paid, deposit.created_at)
            q.flag(connection, **found.flag_args() | {"project_id": project}, at=at)
            return "invalid_amount", deposit.payment_id
    if q.settle_deposit(connection, deposit.payment_id, target, paid, at):
        if paid is not None:
            if money is not None and (mismatch := findings.money_mismatch(deposit, paid, money.currency, "callback")):
                q.flag(connection, **mismatch.flag_args() | {"project_id": project}, at=at)
            if deposit.contract_id:
                # Never more than the deposit asked for: a larger amount is flagged above.
                credited = min(paid, deposit.amount)
                overpaid = flag_overpaid(deposit, at)
                q.credit_contract(
                    connection, project, deposit.contract_id, credited, at, deposit.payment_id, overpaid=overpaid
                )
        return "applied", deposit.payment_id
    current = q.deposit(connection, deposit.payment_id)
    if current is not None and current.state == target:
        return "duplicate", deposit.payment_id
    statuses = q.signed_statuses(connection, payment.id)
    state = current.state if current else None
    conflict = findings.conflicting_status(payment.id, state, statuses, deposit.amount, deposit.created_at)
    q.flag(connection, **conflict.flag_args() | {"project_id": project}, at=at)
    return "conflict", deposit.payment_id


def flag_overpaid(deposit: DepositRow, at: int) -> q.Overpaid:
    """What a credit does with an excess over what was due: an ``overpaid`` finding."""

    def flag(connection: Connection, excess: dict[str, Any]) -> None:
        found = findings.overpaid(deposit.payment_id, excess, deposit.created_at)
        q.flag(connection, **found.flag_args() | {"project_id": deposit.project_id}, at=at)

    return flag


def hour_of(at_us: int) -> str:
    """The UTC hour a moment falls in: the window bad signatures are grouped by."""
    return datetime.fromtimestamp(at_us / 1e6, UTC).strftime("%Y-%m-%dT%H:00Z")


def record_forged(
    connection: Connection, *, peer: str, payment_id: str | None, digest: str, kept: str, at: int
) -> None:
    """A callback whose signature did not verify: kept abridged, flagged once per peer and
    hour (the finding counts the rest)."""
    q.record_callback(
        connection,
        {
            "received_at": at,
            "last_received_at": at,
            "dedupe_key": f"bad-signature:{digest}",
            "signature_ok": False,
            "payment_id": payment_id,
            "outcome": "rejected",
            "raw": kept,
        },
    )
    q.flag(connection, **findings.bad_signature(peer, hour_of(at), payment_id, digest).flag_args(), at=at)
