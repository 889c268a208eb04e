"""Corrections with commands behind them, each applied once and audited with its note.

* close an unpaid deposit (expired, or cancelled at the terminal): ``pending`` → ``closed``;
* credit a deposit the platform reports as successful when its success callback never came,
  with the platform's operation as the evidence: ``pending`` → ``paid`` and the contract's
  amount due lowered, exactly as a callback would, never more than the deposit asked for.

Both are conditional on the deposit still being ``pending`` (a callback that lands first
wins, and the correction is refused saying so).
"""

from __future__ import annotations

from sqlalchemy import Connection

from ..callbacks import flag_overpaid
from ..edits import EditRejected, os_user
from ..i18n import _
from ..store import Store, now_us
from ..store import queries as q
from ..store import reconciliation as sr
from ..store.rows import DepositRow
from .words import word


def _pending(connection: Connection, payment_id: str) -> DepositRow:
    deposit = q.deposit(connection, payment_id)
    if deposit is None:
        raise EditRejected(_("no deposit {payment_id}").format(payment_id=payment_id))
    if deposit.state != "pending":
        raise EditRejected(
            _("deposit {payment_id} is {state}, not pending: nothing to correct").format(
                payment_id=payment_id, state=word(deposit.state)
            )
        )
    return deposit


async def close_deposit(store: Store, payment_id: str, note: str, actor: str | None = None) -> None:
    if not note.strip():
        raise EditRejected(_("note: say why the deposit is closed (expired, cancelled at the terminal, …)"))
    who = actor or os_user()

    def job(connection: Connection) -> None:
        deposit = _pending(connection, payment_id)
        at = now_us()
        if not sr.close_pending(connection, payment_id, at):
            raise EditRejected(_("deposit {payment_id} changed meanwhile: nothing done").format(payment_id=payment_id))
        q.write_audit(
            connection,
            [
                q.audit_row(
                    at,
                    who,
                    "correction",
                    "deposit",
                    payment_id,
                    "state",
                    "pending",
                    "closed",
                    note=note.strip(),
                    project=deposit.project_id,
                )
            ],
        )

    await store.write(job)


async def credit_deposit(store: Store, payment_id: str, operation_id: str, note: str, actor: str | None = None) -> int:
    """Credit ``payment_id`` on the evidence of the platform's operation; returns the amount."""
    if not note.strip():
        raise EditRejected(_("note: say why (the platform's record shows the payment; no callback came)"))
    who = actor or os_user()

    def job(connection: Connection) -> int:
        deposit = _pending(connection, payment_id)
        op = sr.operation_evidence(connection, str(operation_id))
        if op is None or op.payment_id != payment_id:
            raise EditRejected(
                _("the platform's record has no operation {operation_id} for {payment_id}").format(
                    operation_id=operation_id, payment_id=payment_id
                )
            )
        if op.project_id is not None and op.project_id != deposit.project_id:  # money never crosses projects
            raise EditRejected(
                _("operation {operation_id} is of project {project}, not {ours}").format(
                    operation_id=operation_id, project=op.project_id, ours=deposit.project_id
                )
            )
        if op.status != "success" or op.currency != deposit.currency or not op.amount or op.amount <= 0:
            raise EditRejected(
                _(
                    "operation {operation_id} is {status} {amount} {currency}: only a successful positive "
                    "amount in {expected} credits"
                ).format(
                    operation_id=operation_id,
                    status=word(op.status or ""),
                    amount=op.amount,
                    currency=op.currency,
                    expected=deposit.currency,
                )
            )
        at = now_us()
        if not q.settle_deposit(connection, payment_id, "paid", op.amount, at):
            raise EditRejected(_("deposit {payment_id} changed meanwhile: nothing done").format(payment_id=payment_id))
        credited = min(op.amount, deposit.amount)
        cause = f"operation {operation_id}"
        if deposit.contract_id:
            q.credit_contract(
                connection,
                deposit.project_id,
                deposit.contract_id,
                credited,
                at,
                payment_id,
                actor=who,
                kind="correction",
                note=note,
                overpaid=flag_overpaid(deposit, at),
            )
        q.write_audit(
            connection,
            [
                q.audit_row(
                    at,
                    who,
                    "correction",
                    "deposit",
                    payment_id,
                    "state",
                    "pending",
                    "paid",
                    note=note,
                    cause=cause,
                    project=deposit.project_id,
                )
            ],
        )
        return credited

    return await store.write(job)
