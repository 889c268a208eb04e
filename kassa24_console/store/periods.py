"""The reads of a reconciliation period: its deposits, the platform's operations and the
callbacks of the period or of its deposits, with only the columns the rules and the summary
read. A month is read a day at a time, so each statement is built once with the day's
``start`` and ``end`` as parameters (building one costs more than a day's small query) and
its rows come straight from the driver.

Every read is one project's (``project``): money never crosses projects, so a deposit of one
project is never compared with another's operation or callback, even with the same payment
id. Rows that name no project (operations imported, callbacks received before projects) are
the first project's (``default``)."""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy import BindParameter, Connection, and_, bindparam, func, or_, select

from . import queries as q
from .prepared import Prepared


class PeriodDeposit(NamedTuple):
    """A deposit as the rules read it."""

    payment_id: str
    customer_id: str
    contract_id: str | None
    amount: int
    currency: str
    state: str
    paid_amount: int | None
    created_at: int


class PeriodCallback(NamedTuple):
    """A callback as the rules read it."""

    payment_id: str | None
    signature_ok: bool
    status: str | None
    operation_id: str | None
    amount: int | None
    currency: str | None
    received_at: int


class PeriodOperation(NamedTuple):
    """One of the platform's operations as the rules read it."""

    operation_id: str
    payment_id: str | None
    type: str
    status: str
    amount: int | None
    currency: str | None
    customer_id: str | None
    created_at: int | None


DEPOSIT_FIELDS = [q.deposits.c[name] for name in PeriodDeposit._fields]
CALLBACK_FIELDS = [q.callbacks.c[name] for name in PeriodCallback._fields]
OPERATION_FIELDS = [q.operations.c[name] for name in PeriodOperation._fields]


def _statements() -> tuple[Prepared[PeriodDeposit], Prepared[PeriodOperation], Prepared[PeriodCallback]]:
    d, c, o = q.deposits, q.callbacks, q.operations
    start: BindParameter[int] = bindparam("start")
    end: BindParameter[int] = bindparam("end")
    # ``project_id + 0``: the day is found by the time index, never by the project's (all its rows).
    in_period = and_((d.c.project_id + 0) == bindparam("project"), d.c.created_at >= start, d.c.created_at < end)
    of_period = select(d.c.payment_id).where(in_period)
    return (
        Prepared(select(*DEPOSIT_FIELDS).where(in_period), row=PeriodDeposit),
        Prepared(
            select(*OPERATION_FIELDS).where(
                of_project(o),
                or_(and_(o.c.created_at >= start, o.c.created_at < end), o.c.payment_id.in_(of_period)),
            ),
            row=PeriodOperation,
        ),
        Prepared(
            select(*CALLBACK_FIELDS).where(
                of_project(c),
                or_(and_(c.c.received_at >= start, c.c.received_at < end), c.c.payment_id.in_(of_period)),
            ),
            row=PeriodCallback,
        ),
    )


def of_project(table: Any) -> Any:
    """The condition that a row of ``table`` is the project's (one that names none: the
    first project's), with the project and the first project as parameters."""
    return func.coalesce(table.c.project_id, bindparam("default")) == bindparam("project")


_DEPOSITS, _OPERATIONS, _CALLBACKS = _statements()


def period_rows(
    connection: Connection, start: int, end: int, project: int, default: int
) -> tuple[list[PeriodDeposit], list[PeriodOperation], list[PeriodCallback]]:
    """The project's deposits made in ``[start, end)`` (UTC µs), and its operations and
    callbacks of that time or of those deposits."""
    bounds = {"start": start, "end": end, "project": project, "default": default}
    return (
        _DEPOSITS.all(connection, bounds),
        _OPERATIONS.all(connection, bounds),
        _CALLBACKS.all(connection, bounds),
    )


def deposits_by_id(connection: Connection, payment_ids: list[str], project: int) -> list[PeriodDeposit]:
    """Those of the project's deposits (the rules' columns), 500 ids a statement: another
    project's deposit with one of these ids is not found."""
    d = q.deposits
    found: list[PeriodDeposit] = []
    for start in range(0, len(payment_ids), 500):
        part = payment_ids[start : start + 500]
        query = select(*DEPOSIT_FIELDS).where(d.c.project_id == project, d.c.payment_id.in_(part))
        found += map(PeriodDeposit._make, connection.execute(query))
    return found


def edge_deposits(connection: Connection, start: int, end: int, window: int, project: int) -> list[PeriodDeposit]:
    """The project's deposits (the rules' columns) made within ``window`` µs before ``start``
    or from ``end`` on: where a retry split by the period's edge has its other half."""
    d = q.deposits
    near = or_(
        and_(d.c.created_at >= start - window, d.c.created_at < start),
        and_(d.c.created_at >= end, d.c.created_at < end + window),
    )
    query = select(*DEPOSIT_FIELDS).where((d.c.project_id + 0) == project, near)
    return [PeriodDeposit._make(row) for row in connection.execute(query)]
