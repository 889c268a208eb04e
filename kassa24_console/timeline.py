"""One payment's story, in order: the verify before it, the check_deposit and our answer,
every callback delivery with its status and outcome, the platform's record once reconciled,
the mismatches with their notes, and what was due on the contract before and after.

Read from the store only (no clock of its own), so the console and any tool tell the same story.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, or_, select

from .money import format_money
from .store import queries as q

NEAR_US = 30_000_000  # the check_deposit's traffic record is within seconds of the deposit


@dataclass(frozen=True)
class Event:
    at: int
    what: str
    detail: str


def latest_deposit_of(connection: Connection, contract_id: str, project_id: int | None = None) -> str | None:
    """The payment id of a contract's newest deposit (a contract's story is its last payment's);
    with ``project_id``, of that project's contract of this id only."""
    d = q.deposits
    mine = [d.c.contract_id == contract_id] + ([] if project_id is None else [d.c.project_id == project_id])
    query = select(d.c.payment_id).where(*mine).order_by(d.c.created_at.desc()).limit(1)
    return connection.execute(query).scalar()


def payment_of_traffic(row: Any) -> str | None:
    """The payment id a traffic record is about: our check_deposit answer's, or a callback's."""
    for text, path in ((row.response, ("payment_id",)), (row.request, ("payment", "id"))):
        try:
            value: Any = json.loads(text)
        except (TypeError, ValueError):
            continue
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, str) and value:
            return value
    return None


def story(connection: Connection, payment_id: str) -> list[Event]:
    """Every recorded step of ``payment_id``, oldest first (empty when nothing is known)."""
    events: list[Event] = []
    deposit = q.deposit(connection, payment_id)
    if deposit is not None:
        events += _requests(connection, deposit)
    events += _callbacks(connection, payment_id)
    events += _platform(connection, payment_id)
    events += _mismatches(connection, payment_id)
    events += _money(connection, payment_id)
    return sorted(events, key=lambda e: e.at)


def _requests(connection: Connection, deposit: Any) -> list[Event]:
    t = q.traffic
    found = []
    verify = connection.execute(
        select(t)
        .where(t.c.kind == "verify", t.c.customer_id == deposit.customer_id, t.c.at <= deposit.created_at)
        .order_by(t.c.at.desc())
        .limit(1)
    ).first()
    if verify is not None:
        found.append(Event(verify.at, "verify", f"customer {verify.customer_id} → code {verify.code}"))
    near = connection.execute(
        select(t).where(
            t.c.kind == "check_deposit",
            t.c.customer_id == deposit.customer_id,
            t.c.at.between(deposit.created_at - NEAR_US, deposit.created_at + NEAR_US),
        )
    ).all()
    exchange = next((row for row in near if payment_of_traffic(row) == deposit.payment_id), None)
    where = f"contract {deposit.contract_id} " if deposit.contract_id else ""
    asked = f"{where}{format_money(deposit.amount, deposit.currency)}"
    answer = exchange.response if exchange is not None else json.dumps({"code": 0, "payment_id": deposit.payment_id})
    found.append(Event(deposit.created_at, "check_deposit", f"{asked} → {answer}; deposit is now {deposit.state}"))
    return found


def _callbacks(connection: Connection, payment_id: str) -> list[Event]:
    c = q.callbacks
    rows = connection.execute(select(c).where(c.c.payment_id == payment_id).order_by(c.c.received_at)).all()
    found = []
    for row in rows:
        signature = "signature ok" if row.signature_ok else "SIGNATURE FAILED"
        money = format_money(row.amount, row.currency or "KZT") if row.amount is not None else ""
        times = f" (delivered ×{row.deliveries})" if row.deliveries > 1 else ""
        detail = f"{row.status or '?'} {money} · operation {row.operation_id} · {signature} → {row.outcome}{times}"
        found.append(Event(row.received_at, "callback", detail))
    return found


def _platform(connection: Connection, payment_id: str) -> list[Event]:
    o = q.operations
    rows = connection.execute(select(o).where(o.c.payment_id == payment_id)).all()
    return [
        Event(
            row.created_at or row.imported_at,
            "platform",
            f"operation {row.operation_id} {row.type or 'sale'} {row.status} "
            f"{format_money(row.amount, row.currency or 'KZT') if row.amount is not None else ''} ({row.source})",
        )
        for row in rows
    ]


def _mismatches(connection: Connection, payment_id: str) -> list[Event]:
    m, a = q.mismatches, q.audit
    rows = connection.execute(select(m).where(m.c.payment_id == payment_id)).all()
    found = [Event(row.found_at, "mismatch", f"#{row.id} {row.kind} found ({row.state} now)") for row in rows]
    if rows:
        ids = [str(row.id) for row in rows]
        notes = connection.execute(
            select(a).where(a.c.entity == "mismatch", a.c.entity_id.in_(ids)).order_by(a.c.at)
        ).all()
        found += [Event(n.at, n.kind, f"#{n.entity_id} by {n.actor}: {n.note}") for n in notes]
    return found


def _money(connection: Connection, payment_id: str) -> list[Event]:
    a = q.audit
    rows = connection.execute(
        select(a).where(
            a.c.entity.in_(["contract", "deposit"]),
            or_(a.c.cause == payment_id, and_(a.c.entity == "deposit", a.c.entity_id == payment_id)),
        )
    ).all()
    found = []
    for row in rows:
        if row.entity == "contract":
            before = format_money(int(row.old)) if row.old is not None else "–"
            after = format_money(int(row.new)) if row.new is not None else "–"
            what = "credit balance" if row.field == "credit" else "amount due"
            found.append(Event(row.at, what, f"contract {row.entity_id}: {before} → {after} ({row.kind})"))
        else:
            note = f" — {row.note}" if row.note else ""
            found.append(Event(row.at, row.kind, f"deposit {row.old} → {row.new} by {row.actor}{note}"))
    return found
