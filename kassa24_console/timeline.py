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

from .audit import actor_word, audit_kind, note_text
from .i18n import N_, _
from .money import format_money
from .reasons import part_text
from .reconcile.words import kind_name, word
from .store import queries as q

NEAR_US = 30_000_000  # the check_deposit's traffic record is within seconds of the deposit
# The steps of a story as the operator reads them; verify and check_deposit are the
# protocol's names and stay as they are.
STEPS = {
    "callback": N_("callback"),
    "platform": N_("platform"),
    "mismatch": N_("mismatch"),
    "credit balance": N_("credit balance"),
    "amount due": N_("amount due"),
}
SOURCES = {"report": N_("report"), "data_api": N_("Data API"), "import": N_("import")}


def step(what: str) -> str:
    return _(STEPS[what]) if what in STEPS else audit_kind(what)


@dataclass(frozen=True)
class Event:
    at: int
    what: str
    detail: str


def latest_deposit_of(connection: Connection, contract_id: str) -> str | None:
    """The payment id of a contract's newest deposit (a contract's story is its last payment's)."""
    d = q.deposits
    query = select(d.c.payment_id).where(d.c.contract_id == contract_id).order_by(d.c.created_at.desc()).limit(1)
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
        detail = _("customer {customer} → code {code}").format(customer=verify.customer_id, code=verify.code)
        found.append(Event(verify.at, "verify", detail))
    near = connection.execute(
        select(t).where(
            t.c.kind == "check_deposit",
            t.c.customer_id == deposit.customer_id,
            t.c.at.between(deposit.created_at - NEAR_US, deposit.created_at + NEAR_US),
        )
    ).all()
    exchange = next((row for row in near if payment_of_traffic(row) == deposit.payment_id), None)
    where = _("contract {id} ").format(id=deposit.contract_id) if deposit.contract_id else ""
    asked = f"{where}{format_money(deposit.amount, deposit.currency)}"
    answer = exchange.response if exchange is not None else json.dumps({"code": 0, "payment_id": deposit.payment_id})
    now = _("deposit is now {state}").format(state=word(deposit.state))
    found.append(Event(deposit.created_at, "check_deposit", f"{asked} → {answer}; {now}"))
    return found


def _callbacks(connection: Connection, payment_id: str) -> list[Event]:
    c = q.callbacks
    rows = connection.execute(select(c).where(c.c.payment_id == payment_id).order_by(c.c.received_at)).all()
    found = []
    for row in rows:
        signature = _("signature ok") if row.signature_ok else _("SIGNATURE FAILED")
        money = format_money(row.amount, row.currency or "KZT") if row.amount is not None else ""
        times = _(" (delivered ×{n})").format(n=row.deliveries) if row.deliveries > 1 else ""
        detail = _("{status} {money} · operation {operation} · {signature} → {outcome}{times}").format(
            status=word(row.status) if row.status else "?",
            money=money,
            operation=row.operation_id,
            signature=signature,
            outcome=part_text(row.outcome),
            times=times,
        )
        found.append(Event(row.received_at, "callback", detail))
    return found


def _platform(connection: Connection, payment_id: str) -> list[Event]:
    o = q.operations
    rows = connection.execute(select(o).where(o.c.payment_id == payment_id)).all()
    return [
        Event(
            row.created_at or row.imported_at,
            "platform",
            _("operation {operation} {type} {status} {amount} ({source})").format(
                operation=row.operation_id,
                type=_(TYPES[row.type or "sale"]) if (row.type or "sale") in TYPES else row.type,
                status=word(row.status),
                amount=format_money(row.amount, row.currency or "KZT") if row.amount is not None else "",
                source=_(SOURCES[row.source]) if row.source in SOURCES else row.source,
            ),
        )
        for row in rows
    ]


TYPES = {"sale": N_("sale"), "purchase": N_("purchase"), "refund": N_("refund"), "reversal": N_("reversal")}


def _mismatches(connection: Connection, payment_id: str) -> list[Event]:
    m, a = q.mismatches, q.audit
    rows = connection.execute(select(m).where(m.c.payment_id == payment_id)).all()
    found = [
        Event(
            row.found_at,
            "mismatch",
            _("#{id} {kind} found ({state} now)").format(id=row.id, kind=kind_name(row.kind), state=word(row.state)),
        )
        for row in rows
    ]
    if rows:
        ids = [str(row.id) for row in rows]
        notes = connection.execute(
            select(a).where(a.c.entity == "mismatch", a.c.entity_id.in_(ids)).order_by(a.c.at)
        ).all()
        found += [
            Event(
                n.at,
                n.kind,
                _("#{id} by {who}: {note}").format(id=n.entity_id, who=actor_word(n.actor), note=note_text(n.note)),
            )
            for n in notes
        ]
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
            detail = _("contract {id}: {before} → {after} ({kind})").format(
                id=row.entity_id, before=before, after=after, kind=audit_kind(row.kind)
            )
            found.append(Event(row.at, what, detail))
        else:
            note = f" — {note_text(row.note)}" if row.note else ""
            detail = _("deposit {old} → {new} by {who}").format(
                old=word(row.old or "–"), new=word(row.new or "–"), who=actor_word(row.actor)
            )
            found.append(Event(row.at, row.kind, detail + note))
    return found
