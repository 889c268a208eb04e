"""The reads behind one payment's story and a callback's detail: every record about one
payment id, each found by an index on it (never by a time window around the customer).

``timeline`` puts these rows in order and in words; the console's Callbacks pane shows what
we answered a callback from here. Rows are typed (``store.rows``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, and_, or_, select

from .queries import audit, callbacks, deposits, mismatches, operations, traffic
from .rows import AuditEntry, CallbackRow, MismatchRow, OperationRow, TrafficRow

_AUDIT = [audit.c[name] for name in AuditEntry._fields]

# A callback's traffic record is written after its answer (batched, off the request path):
# its moment lies at most this long after the callback's last delivery was stored.
ANSWER_SLACK_US = 60_000_000


def latest_deposit_of(connection: Connection, contract_id: str, project_id: int | None = None) -> str | None:
    """The payment id of a contract's newest deposit (a contract's story is its last payment's);
    with ``project_id``, of that project's contract of this id only."""
    d = deposits
    mine = [d.c.contract_id == contract_id] + ([] if project_id is None else [d.c.project_id == project_id])
    query = select(d.c.payment_id).where(*mine).order_by(d.c.created_at.desc()).limit(1)
    return connection.execute(query).scalar()


def verify_before(connection: Connection, customer_id: str, at: int) -> TrafficRow | None:
    """The customer's last verify at or before ``at``."""
    t = traffic
    query = (
        select(t)
        .where(t.c.kind == "verify", t.c.customer_id == customer_id, t.c.at <= at)
        .order_by(t.c.at.desc())
        .limit(1)
    )
    found = connection.execute(query).first()
    return None if found is None else TrafficRow._make(found)


def exchanges(connection: Connection, payment_id: str, kind: str) -> list[TrafficRow]:
    """The traffic records of ``kind`` carrying ``payment_id``, oldest first: for a
    check_deposit, the exchange whose answer minted it."""
    t = traffic
    query = select(t).where(t.c.payment_id == payment_id, t.c.kind == kind).order_by(t.c.at, t.c.id)
    return [TrafficRow._make(row) for row in connection.execute(query)]


def callbacks_of(connection: Connection, payment_id: str) -> list[CallbackRow]:
    c = callbacks
    query = select(c).where(c.c.payment_id == payment_id).order_by(c.c.received_at)
    return [CallbackRow._make(row) for row in connection.execute(query)]


def operations_of(connection: Connection, payment_id: str) -> list[OperationRow]:
    o = operations
    return [OperationRow._make(row) for row in connection.execute(select(o).where(o.c.payment_id == payment_id))]


def mismatches_of(connection: Connection, payment_id: str) -> list[MismatchRow]:
    m = mismatches
    return [MismatchRow._make(row) for row in connection.execute(select(m).where(m.c.payment_id == payment_id))]


def notes_on_mismatches(connection: Connection, ids: list[int]) -> list[AuditEntry]:
    """Every resolve and reopen of these mismatches, oldest first."""
    a = audit
    query = select(*_AUDIT).where(a.c.entity == "mismatch", a.c.entity_id.in_([str(i) for i in ids])).order_by(a.c.at)
    return [AuditEntry._make(row) for row in connection.execute(query)]


def money_changes_of(connection: Connection, payment_id: str) -> list[AuditEntry]:
    """What the payment changed: contracts credited by it, and its deposit's own changes."""
    a = audit
    caused = or_(a.c.cause == payment_id, and_(a.c.entity == "deposit", a.c.entity_id == payment_id))
    query = select(*_AUDIT).where(a.c.entity.in_(["contract", "deposit"]), caused)
    return [AuditEntry._make(row) for row in connection.execute(query)]


def callback(connection: Connection, callback_id: int) -> CallbackRow | None:
    """One callback as stored, with its raw body."""
    found = connection.execute(select(callbacks).where(callbacks.c.id == callback_id)).first()
    return None if found is None else CallbackRow._make(found)


def deposit_as_dict(connection: Connection, payment_id: str | None) -> dict[str, Any] | None:
    """A deposit as a plain mapping (for a detail view), or None."""
    if not payment_id:
        return None
    found = connection.execute(select(deposits).where(deposits.c.payment_id == payment_id)).first()
    return dict(found._mapping) if found is not None else None


def callback_answers(connection: Connection, record: CallbackRow) -> list[TrafficRow]:
    """The traffic records of the deliveries of one stored callback, oldest first: what we
    actually answered each time. A signed callback's are found by its payment id (the caller
    keeps those of its operation and status); a forged one's, which carry no id we believe, by
    the very text stored for both, among callbacks of its own delivery span."""
    t = traffic
    if record.signature_ok:
        if not record.payment_id:
            return []
        query = select(t).where(t.c.payment_id == record.payment_id, t.c.kind == "callback")
    else:
        query = select(t).where(
            t.c.at.between(record.received_at, record.last_received_at + ANSWER_SLACK_US),
            t.c.kind == "callback",
            t.c.signature_ok.is_not(True),
            t.c.request == record.raw,
        )
    return [TrafficRow._make(row) for row in connection.execute(query.order_by(t.c.at, t.c.id))]
