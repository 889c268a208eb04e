"""What an operator changes by hand: contracts, accounts, mismatches. Validated, audited.

Each edit is one transaction that also writes an audit row per changed field (who, when,
old, new), so the console and any future tool leave the same trail.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select, update

from .money import parse_decimal, whole_minor_units
from .store import JobRefused, Store, now_us
from .store import queries as q


class EditRejected(JobRefused, ValueError):
    """The values cannot be saved; the text says which field and why."""


def operator() -> str:
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
        raise EditRejected(f"{field}: required")
    try:
        value = parse_decimal(text)
    except ValueError:
        raise EditRejected(f"{field}: not an amount (write 1500.00)") from None
    if value < 0:
        raise EditRejected(f"{field}: cannot be negative")
    minor = whole_minor_units(value)
    if minor is None:
        raise EditRejected(f"{field}: at most 2 decimal places")
    return minor


def parse_status_code(text: str) -> int:
    cleaned = text.strip()
    if not cleaned.isdigit() or int(cleaned) > 999:
        raise EditRejected("status code: a number 0–999 (0 = payment allowed)")
    return int(cleaned)


@dataclass(frozen=True)
class ContractChange:
    status_code: int
    status_text: str
    payment: int
    min_payment: int | None


async def update_contract(store: Store, contract_id: str, change: ContractChange, actor: str | None = None) -> int:
    """Save ``change``; returns how many fields changed (0 when nothing did)."""
    if change.min_payment is not None and change.min_payment > 50_000_000:
        raise EditRejected("minimum payment: above the method's maximum of 500 000,00")
    who = actor or operator()

    def job(connection: Connection) -> int:
        row = q.contract(connection, contract_id)
        if row is None:
            raise EditRejected(f"contract {contract_id} no longer exists")
        new = {
            "status_code": change.status_code,
            "status_text": change.status_text,
            "payment": change.payment,
            "min_payment": change.min_payment,
        }
        changed = {k: v for k, v in new.items() if getattr(row, k) != v}
        if not changed:
            return 0
        at = now_us()
        connection.execute(update(q.contracts).where(q.contracts.c.id == contract_id).values(**changed, updated_at=at))
        q.write_audit(
            connection, [_audit(at, who, "contract", contract_id, k, getattr(row, k), v) for k, v in changed.items()]
        )
        return len(changed)

    return await store.write(job)


async def add_account(
    store: Store, customer_id: str, name: str, additional_id: str | None, actor: str | None = None
) -> None:
    customer_id = customer_id.strip()
    if not customer_id:
        raise EditRejected("customer id: required")
    who = actor or operator()

    def job(connection: Connection) -> None:
        if connection.execute(select(q.accounts.c.customer_id).where(q.accounts.c.customer_id == customer_id)).first():
            raise EditRejected(f"customer id: {customer_id} already exists")
        at = now_us()
        connection.execute(
            q.accounts.insert().values(
                customer_id=customer_id,
                name=name.strip(),
                additional_customer_id=additional_id or None,
                currency="KZT",
                updated_at=at,
            )
        )
        q.write_audit(connection, [_audit(at, who, "account", customer_id, "created", None, name.strip())])

    await store.write(job)


async def add_contract(store: Store, values: dict[str, Any], actor: str | None = None) -> None:
    """Create a contract for an existing account."""
    for key in ("id", "customer_id", "number"):
        if not str(values.get(key) or "").strip():
            raise EditRejected(f"{key.replace('_', ' ')}: required")
    who = actor or operator()

    def job(connection: Connection) -> None:
        if q.contract(connection, values["id"]) is not None:
            raise EditRejected(f"contract id: {values['id']} already exists")
        found = select(q.accounts.c.customer_id).where(q.accounts.c.customer_id == values["customer_id"])
        if connection.execute(found).first() is None:
            raise EditRejected(f"customer id: no account {values['customer_id']}")
        at = now_us()
        connection.execute(q.contracts.insert().values(**values, updated_at=at))
        q.write_audit(connection, [_audit(at, who, "contract", values["id"], "created", None, values["number"])])

    await store.write(job)


async def resolve_mismatch(
    store: Store, mismatch_id: int, note: str, actor: str | None = None, reopen: bool = False
) -> None:
    """Mark a mismatch resolved (or open again) with the operator's note."""
    if not reopen and not note.strip():
        raise EditRejected("note: say how it was resolved")
    who = actor or operator()

    def job(connection: Connection) -> None:
        at = now_us()
        values: dict[str, Any] = (
            {"state": "open", "resolved_by": None, "resolved_at": None}
            if reopen
            else {"state": "resolved", "resolved_by": who, "resolved_at": at}
        )
        result = connection.execute(
            update(q.mismatches).where(q.mismatches.c.id == mismatch_id).values(note=note.strip(), **values)
        )
        if result.rowcount != 1:
            raise EditRejected(f"mismatch {mismatch_id} no longer exists")
        q.write_audit(connection, [_audit(at, who, "mismatch", str(mismatch_id), "state", None, values["state"])])

    await store.write(job)


def _audit(at: int, who: str, entity: str, entity_id: str, field: str, old: Any, new: Any) -> dict[str, Any]:
    return {
        "at": at,
        "actor": who,
        "entity": entity,
        "entity_id": entity_id,
        "field": field,
        "old": None if old is None else str(old),
        "new": None if new is None else str(new),
    }


Validator = Callable[[str], Any]
