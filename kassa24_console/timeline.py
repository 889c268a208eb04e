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

from .i18n import _
from .money import format_money
from .store import stories
from .store.stories import latest_deposit_of

__all__ = ["Answer", "CallbackDetail", "Event", "callback_detail", "latest_deposit_of", "story"]


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
        found.append(Event(verify.at, "verify", f"customer {verify.customer_id} → code {verify.code}"))
    exchange = next(iter(stories.exchanges(connection, deposit["payment_id"], "check_deposit")), None)
    where = f"contract {deposit['contract_id']} " if deposit["contract_id"] else ""
    asked = f"{where}{format_money(deposit['amount'], deposit['currency'])}"
    answer = exchange.response if exchange is not None else _("no answer of ours is recorded")
    found.append(
        Event(deposit["created_at"], "check_deposit", f"{asked} → {answer}; deposit is now {deposit['state']}")
    )
    return found


def _callbacks(connection: Connection, payment_id: str) -> list[Event]:
    rows = stories.callbacks_of(connection, payment_id)
    found = []
    for row in rows:
        signature = "signature ok" if row.signature_ok else "SIGNATURE FAILED"
        money = format_money(row.amount, row.currency or "KZT") if row.amount is not None else ""
        times = f" (delivered ×{row.deliveries})" if row.deliveries > 1 else ""
        detail = f"{row.status or '?'} {money} · operation {row.operation_id} · {signature} → {row.outcome}{times}"
        found.append(Event(row.received_at, "callback", detail))
    return found


def _platform(connection: Connection, payment_id: str) -> list[Event]:
    rows = stories.operations_of(connection, payment_id)
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
    rows = stories.mismatches_of(connection, payment_id)
    found = [Event(row.found_at, "mismatch", f"#{row.id} {row.kind} found ({row.state} now)") for row in rows]
    if rows:
        notes = stories.notes_on_mismatches(connection, [row.id for row in rows])
        found += [Event(n.at, n.kind, f"#{n.entity_id} by {n.actor}: {n.note}") for n in notes]
    return found


def _money(connection: Connection, payment_id: str) -> list[Event]:
    rows = stories.money_changes_of(connection, payment_id)
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
