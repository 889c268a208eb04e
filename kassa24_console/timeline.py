"""One payment's story, in order: the verify before it, the check_deposit whose answer
minted its payment id and that answer as recorded, every callback delivery with its status
and outcome, the platform's record once reconciled, the mismatches with their notes, and
what was due on the contract before and after.

Read from the store only (no clock of its own), so the console and any tool tell the same story;
every record is found by the payment id it carries, and the story shows only what happened.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from .i18n import N_, _
from .money import format_money
from .reasons import part_text
from .store import stories
from .store.stories import latest_deposit_of
from .words import actor_word, audit_kind, kind_name, note_text, word

__all__ = ["Answer", "CallbackDetail", "Event", "callback_detail", "latest_deposit_of", "story"]

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


def story(connection: Connection, payment_id: str) -> list[Event]:
    """Every recorded step of ``payment_id``, oldest first (empty when nothing is known)."""
    events: list[Event] = []
    deposit = stories.deposit_as_dict(connection, payment_id)
    if deposit is not None:
        events += _requests(connection, deposit)
    events += _callbacks(connection, payment_id)
    events += _platform(connection, payment_id)
    events += _mismatches(connection, payment_id)
    events += _money(connection, payment_id)
    return sorted(events, key=lambda e: e.at)


def _requests(connection: Connection, deposit: dict[str, Any]) -> list[Event]:
    """The verify before the deposit, and the check_deposit whose answer minted its payment
    id, with that answer as recorded (when no record of it is kept, the story says so)."""
    found = []
    verify = stories.verify_before(connection, deposit["customer_id"], deposit["created_at"])
    if verify is not None:
        detail = _("customer {customer} → code {code}").format(customer=verify.customer_id, code=verify.code)
        found.append(Event(verify.at, "verify", detail))
    exchange = next(iter(stories.exchanges(connection, deposit["payment_id"], "check_deposit")), None)
    where = _("contract {id} ").format(id=deposit["contract_id"]) if deposit["contract_id"] else ""
    asked = f"{where}{format_money(deposit['amount'], deposit['currency'])}"
    answer = exchange.response if exchange is not None else _("no answer of ours is recorded")
    now = _("deposit is now {state}").format(state=word(deposit["state"]))
    found.append(Event(deposit["created_at"], "check_deposit", f"{asked} → {answer}; {now}"))
    return found


def _callbacks(connection: Connection, payment_id: str) -> list[Event]:
    rows = stories.callbacks_of(connection, payment_id)
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
    rows = stories.operations_of(connection, payment_id)
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
    rows = stories.mismatches_of(connection, payment_id)
    found = [
        Event(
            row.found_at,
            "mismatch",
            _("#{id} {kind} found ({state} now)").format(id=row.id, kind=kind_name(row.kind), state=word(row.state)),
        )
        for row in rows
    ]
    if rows:
        notes = stories.notes_on_mismatches(connection, [row.id for row in rows])
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
    rows = stories.money_changes_of(connection, payment_id)
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


@dataclass(frozen=True)
class Answer:
    """What we sent one delivery, as the traffic record keeps it (the body parsed when JSON)."""

    at: int
    http_status: int
    body: Any


@dataclass(frozen=True)
class CallbackDetail:
    """A stored callback, what we answered each of its deliveries (as recorded in traffic,
    oldest first; empty when no record is kept), and the deposit it was matched to."""

    raw: str
    answers: list[Answer]
    deposit: dict[str, Any] | None


def callback_detail(connection: Connection, callback_id: int) -> CallbackDetail | None:
    record = stories.callback(connection, callback_id)
    if record is None:
        return None
    rows = stories.callback_answers(connection, record)
    if record.signature_ok:  # the payment's other callbacks (other operations or statuses) are not this one's
        rows = [row for row in rows if _operation_of(row.request) == (record.operation_id, record.operation_status)]
    answers = [Answer(row.at, row.http_status, _parsed(row.response)) for row in rows]
    return CallbackDetail(record.raw, answers, stories.deposit_as_dict(connection, record.deposit_id))


def _parsed(text: str) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


def _operation_of(request: str) -> tuple[str | None, str | None]:
    """A callback body's operation id and status, as the callbacks table keeps them."""
    try:
        body = json.loads(request)
    except (TypeError, ValueError):
        return None, None
    operation = body.get("operation") if isinstance(body, dict) else None
    if not isinstance(operation, dict):
        return None, None
    ident, status = operation.get("id"), operation.get("status")
    return (str(ident) if ident is not None else None), (status if isinstance(status, str) else None)
