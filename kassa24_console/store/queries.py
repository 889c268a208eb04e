"""Statements over one connection: the primitives the service and the console compose.

Writes here are meant to run inside a :class:`~.db.Writer` job; where two processes may
race (crediting a deposit, counting a duplicate callback) a unique constraint or a
conditional update decides, never a read followed by a write.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from .models import Account, Audit, CallbackRecord, Contract, Deposit, Mismatch

accounts = Account.__table__
contracts = Contract.__table__
deposits = Deposit.__table__
callbacks = CallbackRecord.__table__
mismatches = Mismatch.__table__
audit = Audit.__table__


def _insert(connection: AsyncConnection, table: Any) -> Any:
    """A dialect insert, so ``on_conflict_*`` is available on SQLite and PostgreSQL."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


# --- reads -------------------------------------------------------------------------------


async def account_with_contracts(
    connection: AsyncConnection, customer_id: str
) -> tuple[Account | None, list[Contract]]:
    """The account and its contracts in one indexed round trip."""
    query = (
        select(accounts, contracts)
        .select_from(accounts.outerjoin(contracts, contracts.c.customer_id == accounts.c.customer_id))
        .where(accounts.c.customer_id == customer_id)
        .order_by(contracts.c.id)
    )
    rows = (await connection.execute(query)).all()
    if not rows:
        return None, []
    width = len(accounts.c)
    account = Account(**dict(zip(accounts.c.keys(), rows[0][:width], strict=True)))
    found = [
        Contract(**dict(zip(contracts.c.keys(), row[width:], strict=True))) for row in rows if row[width] is not None
    ]
    return account, found


async def deposit(connection: AsyncConnection, payment_id: str) -> Deposit | None:
    row = (await connection.execute(select(deposits).where(deposits.c.payment_id == payment_id))).first()
    return None if row is None else Deposit(**row._mapping)


async def contract(connection: AsyncConnection, contract_id: str) -> Contract | None:
    row = (await connection.execute(select(contracts).where(contracts.c.id == contract_id))).first()
    return None if row is None else Contract(**row._mapping)


# --- writes ------------------------------------------------------------------------------


async def insert_deposit(connection: AsyncConnection, values: dict[str, Any]) -> None:
    await connection.execute(deposits.insert().values(**values))


async def upsert(connection: AsyncConnection, table: Any, key: str, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows``, replacing the non-key columns of rows whose ``key`` exists."""
    if not rows:
        return
    statement = _insert(connection, table)
    columns = {c for row in rows for c in row} - {key}
    statement = statement.on_conflict_do_update(index_elements=[key], set_={c: statement.excluded[c] for c in columns})
    await connection.execute(statement, list(rows))


async def record_callback(connection: AsyncConnection, values: dict[str, Any]) -> tuple[int, int]:
    """Store a callback, or count one more delivery of a stored one: (id, deliveries)."""
    statement = _insert(connection, callbacks).values(**values)
    if values.get("dedupe_key") is not None:
        statement = statement.on_conflict_do_update(
            index_elements=["dedupe_key"],
            set_={
                "deliveries": callbacks.c.deliveries + 1,
                "last_received_at": statement.excluded.last_received_at,
            },
        )
    row = (await connection.execute(statement.returning(callbacks.c.id, callbacks.c.deliveries))).one()
    return row.id, row.deliveries


async def set_callback_outcome(
    connection: AsyncConnection, callback_id: int, outcome: str, deposit_id: str | None
) -> None:
    await connection.execute(
        update(callbacks).where(callbacks.c.id == callback_id).values(outcome=outcome, deposit_id=deposit_id)
    )


async def settle_deposit(
    connection: AsyncConnection, payment_id: str, state: str, paid_amount: int | None, at: int
) -> bool:
    """Move a pending deposit to ``state``; False when another callback got there first."""
    result = await connection.execute(
        update(deposits)
        .where(deposits.c.payment_id == payment_id, deposits.c.state == "pending")
        .values(state=state, paid_amount=paid_amount, updated_at=at)
    )
    return result.rowcount == 1


async def lower_due(connection: AsyncConnection, contract_id: str, amount: int, at: int) -> None:
    """What is due on a contract goes down by ``amount``, never below zero."""
    remaining = case((contracts.c.payment > amount, contracts.c.payment - amount), else_=0)
    await connection.execute(
        update(contracts).where(contracts.c.id == contract_id).values(payment=remaining, updated_at=at)
    )


async def flag(
    connection: AsyncConnection,
    *,
    key: str,
    kind: str,
    payment_id: str | None,
    evidence: dict[str, Any],
    action: str,
    at: int,
) -> None:
    """Record a mismatch once per ``key``; flagging the same thing again changes nothing."""
    statement = _insert(connection, mismatches).values(
        key=key,
        kind=kind,
        payment_id=payment_id,
        evidence=evidence,
        action=action,
        found_at=at,
        state="open",
        note="",
    )
    await connection.execute(statement.on_conflict_do_nothing(index_elements=["key"]))


async def write_audit(connection: AsyncConnection, rows: Iterable[dict[str, Any]]) -> None:
    rows = list(rows)
    if rows:
        await connection.execute(audit.insert(), rows)


async def count(connection: AsyncConnection, table: Any) -> int:
    return (await connection.execute(select(func.count()).select_from(table))).scalar_one()
