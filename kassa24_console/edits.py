"""What an operator changes by hand: contracts, accounts, mismatches. Validated, audited.

Each edit is one transaction that also writes an audit row per changed field (who, when,
old, new, note), so the console and any future tool leave the same trail. An edit of a
contract is conditional on the row version the operator saw (compare-and-set): it never
writes back a value a payment or an import has changed since.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from .config import DEMO_PROJECT_ID
from .errors import ConflictError, InputError
from .i18n import N_, _
from .money import format_money, parse_decimal, whole_minor_units
from .store import JobRefused, Store, changes, now_us
from .store import queries as q
from .store.rows import AuditEntry, ContractRow


class EditRejected(JobRefused, InputError):
    """The values cannot be saved; the text says which field and why."""


def os_user() -> str:
    """Who is at the keyboard: the OS user."""
    try:
        return getpass.getuser()
    except Exception:  # no login name (containers): still record something honest
        return "unknown"


def parse_major(text: str, field: str, *, optional: bool = False) -> int | None:
    """``"1 500,50"`` or ``"1500.50"`` KZT → 150050 minor units."""
    if not text.strip():
        if optional:
            return None
        raise EditRejected(_("{field}: required").format(field=_(field)))
    try:
        value = parse_decimal(text)
    except ValueError:
        raise EditRejected(_("{field}: not an amount (write 1 500,00)").format(field=_(field))) from None
    if value < 0:
        raise EditRejected(_("{field}: cannot be negative").format(field=_(field)))
    minor = whole_minor_units(value)
    if minor is None:
        raise EditRejected(_("{field}: at most 2 decimal places").format(field=_(field)))
    return minor


def parse_status_code(text: str) -> int:
    cleaned = text.strip()
    if not cleaned.isdigit() or int(cleaned) > 999:
        raise EditRejected(_("status code: a number 0–999 (0 = payment allowed)"))
    return int(cleaned)


FIELDS = ("status_code", "status_text", "payment", "min_payment")
LABELS = {
    "status_code": N_("status code"),
    "status_text": N_("status text"),
    "payment": N_("amount due"),
    "min_payment": N_("minimum payment"),
}


@dataclass(frozen=True)
class ContractChange:
    status_code: int
    status_text: str
    payment: int
    min_payment: int | None


@dataclass(frozen=True)
class Seen:
    """A contract as the operator saw it when the form opened: the values an edit is
    conditional on, and when it was last changed (what changed since is told from there)."""

    contract_id: str
    version: int
    updated_at: int
    values: ContractChange
    read_at: int = 0  # when the form read it: a conflict cites only what changed after
    project_id: int = DEMO_PROJECT_ID  # the contract's project (its id is unique only there)

    @classmethod
    def of(cls, row: ContractRow) -> Seen:
        values = ContractChange(row.status_code, row.status_text or "", row.payment, row.min_payment)
        return cls(row.id, row.version, row.updated_at, values, now_us(), row.project_id)


class EditConflict(EditRejected, ConflictError):
    """The contract changed after the form opened: nothing was saved. ``current`` is the
    contract now (the form shows it), the text says what changed, from what, and why."""

    def __init__(self, text: str, current: ContractRow | None) -> None:
        super().__init__(text)
        self.current = current


async def load_contract(store: Store, contract_id: str, project_id: int | None = None) -> Seen:
    project = project_id if project_id is not None else store.default_project
    row = await store.read(q.contract, project, contract_id)
    if row is None:
        raise EditRejected(_("contract {id} no longer exists").format(id=contract_id))
    return Seen.of(row)


async def update_contract(
    store: Store,
    seen: Seen,
    change: ContractChange,
    actor: str | None = None,
    note: str = "",
    zone: ZoneInfo | None = None,
) -> int:
    """Save only the fields the operator changed (``change`` against ``seen``), each on
    condition that it still holds the value the operator saw; returns how many were saved.

    Never a value read earlier written back: a status text edited while a payment lands is
    saved and the payment stays credited (the amount due was not touched); an amount due
    edited while a payment lands is refused with :class:`EditConflict` saying what happened,
    so the operator decides again on what is there now.
    """
    check_contract(change)
    changed = {f: getattr(change, f) for f in FIELDS if getattr(change, f) != getattr(seen.values, f)}
    if not changed:
        return 0
    who = actor or os_user()

    def job(connection: Connection) -> int:
        at = now_us()
        saw = {f: getattr(seen.values, f) for f in changed}
        if not changes.update_contract_if_unchanged(connection, seen.project_id, seen.contract_id, saw, changed, at):
            raise _conflict(connection, seen, zone)
        rows = [
            q.audit_row(
                at,
                who,
                "edit",
                "contract",
                seen.contract_id,
                f,
                getattr(seen.values, f),
                v,
                note=note,
                project=seen.project_id,
            )
            for f, v in changed.items()
        ]
        q.write_audit(connection, rows)
        return len(changed)

    return await store.write(job)


def check_contract(change: ContractChange) -> None:
    problems = []
    if change.min_payment is not None and change.min_payment > 50_000_000:
        problems.append(_("minimum payment: above the method's maximum of 500 000,00"))
    if change.min_payment is not None and change.payment and change.min_payment > change.payment:
        problems.append(_("minimum payment: above the amount due"))
    if problems:
        raise EditRejected("\n".join(problems))


def _conflict(connection: Connection, seen: Seen, zone: ZoneInfo | None) -> EditConflict:
    current = q.contract(connection, seen.project_id, seen.contract_id)
    if current is None:
        return EditConflict(_("contract {id} no longer exists").format(id=seen.contract_id), None)
    since = changes.contract_changes_after(
        connection, seen.project_id, seen.contract_id, max(seen.read_at, seen.updated_at)
    )
    lines = [describe_change(row, zone) for row in since if row.field in FIELDS]
    if not lines:  # changed by something that left no audit row (an older version, or SQL by hand)
        lines = [
            f"{_(LABELS[f])}: {_shown(f, getattr(seen.values, f))} → {_shown(f, getattr(current, f))}"
            for f in FIELDS
            if getattr(current, f) != getattr(seen.values, f)
        ]
    text = "; ".join(lines) or _("the contract was changed")
    return EditConflict(
        _(
            "Not saved: contract {id} changed while the form was open: {changes}. "
            "The form now shows the current values; save again if you still mean it."
        ).format(id=seen.contract_id, changes=text),
        current,
    )


def _shown(field: str, value: Any) -> str:
    if field in ("payment", "min_payment"):
        return "–" if value is None else format_money(int(value))
    return repr(value) if field == "status_text" else str(value)


def describe_change(row: AuditEntry, zone: ZoneInfo | None = None) -> str:
    """An audit row in words: ``payment k24_… credited: amount due 45 000,00 ₸ → 43 500,00 ₸ at 14:02``."""
    field = _(LABELS[row.field]) if row.field in LABELS else row.field
    old = _shown(row.field, _number(row.old) if row.field in ("payment", "min_payment") else row.old)
    new = _shown(row.field, _number(row.new) if row.field in ("payment", "min_payment") else row.new)
    when = datetime.fromtimestamp(row.at / 1e6, zone).astimezone(zone).strftime("%H:%M:%S")  # the configured zone
    change = f"{field} {old} → {new}"
    if row.kind == "payment":
        return _("payment {cause} credited at {when}: {change}").format(cause=row.cause, when=when, change=change)
    if row.kind == "import":
        return _("import of {cause} at {when}: {change}").format(cause=row.cause, when=when, change=change)
    return _("{actor} at {when}: {change}").format(actor=row.actor, when=when, change=change)


def _number(text: str | None) -> int | None:
    return None if text is None else int(text)


async def add_account(
    store: Store,
    customer_id: str,
    name: str,
    additional_id: str | None,
    actor: str | None = None,
    project_id: int | None = None,
) -> None:
    customer_id = customer_id.strip()
    problems = [
        _(text)
        for text, bad in ((N_("customer id: required"), not customer_id), (N_("name: required"), not name.strip()))
        if bad
    ]
    if problems:
        raise EditRejected("\n".join(problems))
    who = actor or os_user()
    project = project_id if project_id is not None else store.default_project

    def job(connection: Connection) -> None:
        if q.has_account(connection, project, customer_id):
            raise EditRejected(_("customer id: {id} already exists").format(id=customer_id))
        at = now_us()
        changes.insert_account(
            connection,
            {
                "project_id": project,
                "customer_id": customer_id,
                "name": name.strip(),
                "additional_customer_id": additional_id or None,
                "currency": "KZT",
                "updated_at": at,
            },
        )
        row = q.audit_row(at, who, "edit", "account", customer_id, "created", None, name.strip(), project=project)
        q.write_audit(connection, [row])

    await store.write(job)


async def add_contract(
    store: Store, values: dict[str, Any], actor: str | None = None, project_id: int | None = None
) -> None:
    """Create a contract for an existing account of the project."""
    required = {"id": N_("contract id"), "customer_id": N_("customer id"), "number": N_("contract number")}
    problems = [
        _("{field}: required").format(field=_(label))
        for key, label in required.items()
        if not str(values.get(key) or "").strip()
    ]
    if problems:
        raise EditRejected("\n".join(problems))
    check_contract(
        ContractChange(values["status_code"], values["status_text"], values["payment"], values["min_payment"])
    )
    who = actor or os_user()
    project = project_id if project_id is not None else store.default_project

    def job(connection: Connection) -> None:
        if q.contract(connection, project, values["id"]) is not None:
            raise EditRejected(_("contract id: {id} already exists").format(id=values["id"]))
        if not q.has_account(connection, project, values["customer_id"]):
            raise EditRejected(_("customer id: no account {id}").format(id=values["customer_id"]))
        at = now_us()
        changes.insert_contract(connection, {**values, "project_id": project, "updated_at": at})
        row = q.audit_row(at, who, "edit", "contract", values["id"], "created", None, values["number"], project=project)
        q.write_audit(connection, [row])

    await store.write(job)


async def resolve_mismatch(
    store: Store, mismatch_id: int, note: str, actor: str | None = None, reopen: bool = False
) -> None:
    """Mark a mismatch resolved (or open again) with the operator's note. Every resolve and
    reopen is its own audit entry (who, when, note): a reopen never erases an earlier note."""
    if not reopen and not note.strip():
        raise EditRejected(_("note: say how it was resolved"))
    who = actor or os_user()

    def job(connection: Connection) -> None:
        at = now_us()
        row = changes.mismatch_state(connection, mismatch_id)
        if row is None:
            raise EditRejected(_("mismatch {id} no longer exists").format(id=mismatch_id))
        values: dict[str, Any] = (
            {"state": "open", "resolved_by": None, "resolved_at": None}
            if reopen
            else {"state": "resolved", "resolved_by": who, "resolved_at": at}
        )
        if note.strip():
            values["note"] = note.strip()
        changes.set_mismatch(connection, mismatch_id, values)
        if reopen and row.kind not in q.UNSIGNED_KINDS:  # a signed period holding it is no longer all clear
            reason = f"#{mismatch_id} {row.kind} {row.payment_id or ''} reopened by {who}: {note.strip()}"
            reason = reason.replace("  ", " ").rstrip(": ")
            q.reopen_signed(connection, row.occurred_at or row.found_at, reason, at, row.project_id)
        kind = "reopen" if reopen else "resolve"
        q.write_audit(
            connection,
            [
                q.audit_row(
                    at,
                    who,
                    kind,
                    "mismatch",
                    str(mismatch_id),
                    "state",
                    row.state,
                    values["state"],
                    note=note.strip(),
                    project=row.project_id,
                )
            ],
        )

    await store.write(job)
