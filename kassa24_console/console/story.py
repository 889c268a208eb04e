"""Stories on screen: one payment's, in order, beside the payment as it is now (the same from
every pane), and one contract's history of changes beside the contract as it is now."""

from __future__ import annotations

from typing import Any

from .. import timeline
from ..i18n import _
from ..reconcile.words import word
from ..store import queries as q
from ..store.changes import history
from ..words import actor_word, audit_kind, field_word, note_text, shown
from . import format as fmt
from .screens import DetailScreen


async def show_story(app: Any, payment_id: str | None) -> None:
    if not payment_id or app.store is None:
        app.notify(_("No payment here: the story is a payment's."), severity="warning")
        return
    events = await app.store.scan(lambda c: timeline.story(c, payment_id))
    if not events:
        app.notify(_("Nothing is recorded about {payment_id}.").format(payment_id=payment_id), severity="warning")
        return
    lines = [
        f"{fmt.at_text(e.at, app.zone, with_date=True).plain}  {timeline.step(e.what):<13} {e.detail}" for e in events
    ]
    deposit = await app.store.read(q.deposit, payment_id)
    summary = (
        _("no deposit of ours")
        if deposit is None
        else _("customer {customer}\ncontract {contract}\namount {amount}\nstate {state}").format(
            customer=deposit.customer_id,
            contract=deposit.contract_id or "–",
            amount=fmt.money(deposit.amount, deposit.currency).plain,
            state=word(deposit.state),
        )
    )
    title = _("Payment {payment_id}").format(payment_id=payment_id)
    app.push_screen(DetailScreen(title, "\n".join(lines), summary, (_("Story"), _("The payment"))))


async def show_history(app: Any, store: Any, contract: Any) -> None:
    """A contract's history, newest first (what just happened is what the operator looks
    for): operator edits, payments credited, imports, corrections; and the contract now."""
    project = getattr(contract, "project_id", None)  # the same contract id may be in two projects
    rows = await store.scan(lambda c: history(c, contract=contract.id, project=project))
    lines = []
    for row in reversed(rows):
        when = fmt.at_text(row.at, app.zone, with_date=True).plain
        change = f"{field_word(row.field)}: {shown(row.field, row.old)} → {shown(row.field, row.new)}"
        why = " · ".join(part for part in (note_text(row.note), row.cause) if part)
        kind = audit_kind(row.kind)
        lines.append(f"{when}  {kind:<10} {actor_word(row.actor)}\n    {change}" + (f"\n    {why}" if why else ""))
    now = _("status code {code} {text}\namount due {due}\nminimum {minimum}\ncredit {credit}").format(
        code=contract.status_code,
        text=contract.status_text,
        due=fmt.money(contract.payment).plain,
        minimum=fmt.money(contract.min_payment).plain,
        credit=fmt.money(getattr(contract, "credit", 0) or 0).plain,
    )
    title = _("History of {id} · {number} · customer {customer} · newest first").format(
        id=contract.id, number=contract.number, customer=contract.customer_id
    )
    lines_text = "\n".join(lines) or _("(no changes recorded)")
    app.push_screen(DetailScreen(title, lines_text, now, (_("History"), _("Now"))))
