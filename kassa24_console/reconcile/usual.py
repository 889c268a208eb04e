"""The usual deposit, told quickly: one callback and one platform operation that agree with
it. A month is 100 000 of them; the rules ask these first and look further (generators,
evidence) only for the rest."""

from __future__ import annotations

from ..protocol.codes import SUCCESS
from ..store.periods import PeriodCallback, PeriodDeposit, PeriodOperation


def one_callback_agrees(deposit: PeriodDeposit, callback: PeriodCallback) -> bool:
    """One callback that the rules' ``_deposit_vs_callbacks`` finds nothing in (the usual case,
    told without making a generator for each of a month's deposits)."""
    if callback.status != SUCCESS:
        return True
    currency, amount = callback.currency, callback.amount
    return (currency is None or currency == deposit.currency) and (amount is None or amount == deposit.amount)


def one_operation_agrees(deposit: PeriodDeposit, op: PeriodOperation) -> bool:
    """One operation that the rules' ``_deposit_vs_report`` finds nothing in: a success for a paid
    deposit, with its money and customer."""
    currency, amount = op.currency, op.amount
    return (
        op.status == SUCCESS
        and deposit.state == "paid"
        and (currency is None or currency == deposit.currency)
        and (amount is None or amount == deposit.amount)
        and (not op.customer_id or op.customer_id == deposit.customer_id)
    )
