"""The reads of a period's export and act: its deposits, the platform's operations of it or
of its deposits, the findings about payments, and the corrections operators made. A month is
100 000 rows of each: they come straight from the driver (SQLAlchemy's result rows cost
more than the query). One project's (``project``); rows that name no project are the first
project's (``default``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import Connection, and_, func, or_, select

from . import queries as q
from .prepared import Prepared

T = TypeVar("T", bound=tuple[Any, ...])


class ExportDeposit(NamedTuple):
    payment_id: str
    customer_id: str | None
    contract_id: str | None
    amount: int
    state: str
    created_at: int


class ExportOperation(NamedTuple):
    payment_id: str
    operation_id: str
    customer_id: str | None
    amount: int | None
    status: str
    created_at: int | None


class PaymentFinding(NamedTuple):
    payment_id: str
    kind: str
    state: str
    note: str
    resolved_by: str | None


class Correction(NamedTuple):
    """An operator's credit or close of a deposit, from the audit."""

    entity_id: str
    actor: str
    new: str | None
    note: str | None
    cause: str | None


def period_deposits(connection: Connection, start: int, end: int, project: int) -> list[ExportDeposit]:
    """The project's deposits made in ``[start, end)``, in the order read (by time)."""
    d = q.deposits
    in_period = and_((d.c.project_id + 0) == project, d.c.created_at >= start, d.c.created_at < end)
    columns = [d.c[name] for name in ExportDeposit._fields]
    return _typed(connection, Prepared(select(*columns).where(in_period), row=ExportDeposit), ExportDeposit)


def period_operations(
    connection: Connection, start: int, end: int, project: int, default: int
) -> list[ExportOperation]:
    """The project's operations made in ``[start, end)`` or for its deposits of that time."""
    d, o = q.deposits, q.operations
    ours = select(d.c.payment_id).where((d.c.project_id + 0) == project, d.c.created_at >= start, d.c.created_at < end)
    in_period = and_(o.c.created_at >= start, o.c.created_at < end)
    of_project = func.coalesce(o.c.project_id, default) == project
    columns = [o.c[name] for name in ExportOperation._fields]
    query = select(*columns).where(of_project, or_(in_period, o.c.payment_id.in_(ours)))
    return _typed(connection, Prepared(query, row=ExportOperation), ExportOperation)


def _typed(connection: Connection, prepared: Prepared, row: type[T]) -> list[T]:
    """The statement's rows as ``row``s: on SQLite made so by the driver path already (a
    second named tuple a row, built in Python, cost more than the query)."""
    rows = prepared.all(connection, {})
    return rows if connection.dialect.name == "sqlite" else [row(*found) for found in rows]


def payment_findings(connection: Connection, project: int, default: int) -> list[PaymentFinding]:
    """Every finding of the project about a payment, in id order (a month's payment ids
    are more than an IN list is worth: the caller picks its own)."""
    m = q.mismatches
    columns = [m.c[name] for name in PaymentFinding._fields]
    of_project = func.coalesce(m.c.project_id, default) == project
    query = select(*columns).where(m.c.payment_id.is_not(None), of_project).order_by(m.c.id)
    return [PaymentFinding(*row) for row in connection.execute(query)]


def corrections_of(connection: Connection, payment_ids: Iterable[str]) -> dict[str, list[Correction]]:
    """The corrections (credit, close) made to these deposits, oldest first, by payment id."""
    a = q.audit
    found: dict[str, list[Correction]] = {}
    wanted = sorted({p for p in payment_ids if p})
    for start in range(0, len(wanted), 500):
        rows = connection.execute(
            select(a.c.entity_id, a.c.actor, a.c.new, a.c.note, a.c.cause)
            .where(a.c.entity == "deposit", a.c.kind == "correction", a.c.entity_id.in_(wanted[start : start + 500]))
            .order_by(a.c.at, a.c.id)
        )
        for row in rows:
            found.setdefault(row.entity_id, []).append(Correction(*row))
    return found
