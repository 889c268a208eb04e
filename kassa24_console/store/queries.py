"""Statements over one connection: the primitives the service and the console compose.

Plain synchronous SQLAlchemy Core; :mod:`.db` decides where they run. Reads return rows
(attribute access, no model construction: it costs more than the query). Writes are meant
to run inside a :class:`~.db.Writer` job; where two processes may race (crediting a
deposit, counting a duplicate callback) a unique constraint or a conditional update
decides, never a read followed by a write.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, and_, bindparam, case, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from .models import (
    Account,
    Audit,
    CallbackRecord,
    Contract,
    Deposit,
    Mismatch,
    PlatformCoverage,
    PlatformOperation,
    SignedPeriod,
    Traffic,
    table_of,
)
from .prepared import Prepared, inserting, upserting
from .rows import AccountRow, CallbackCount, ContractRow, DepositRow, Due
from .sqlite import driver
from .text import storable_tree

accounts = table_of(Account)
contracts = table_of(Contract)
deposits = table_of(Deposit)
callbacks = table_of(CallbackRecord)
mismatches = table_of(Mismatch)
audit = table_of(Audit)
traffic = table_of(Traffic)
operations = table_of(PlatformOperation)
periods = table_of(SignedPeriod)
coverage = table_of(PlatformCoverage)

# Built once with a bound parameter: building the clause per call costs more than the query.
_ACCOUNT_WITH_CONTRACTS = (
    select(accounts, contracts)
    .select_from(
        accounts.outerjoin(
            contracts,
            and_(contracts.c.project_id == accounts.c.project_id, contracts.c.customer_id == accounts.c.customer_id),
        )
    )
    .where(accounts.c.project_id == bindparam("project_id"), accounts.c.customer_id == bindparam("customer_id"))
    .order_by(contracts.c.id)
)
# The same statement as SQLite text: verify is the hottest read, and on SQLite the raw
# driver call costs a fifth of SQLAlchemy's execution path (measured: ~13 µs vs ~65 µs).
_ACCOUNT_WITH_CONTRACTS_SQLITE = str(_ACCOUNT_WITH_CONTRACTS.compile(dialect=sqlite.dialect()))
_INFO_INDEX = len(accounts.c) + list(contracts.c.keys()).index("info")
_ACCOUNT_KEYS = tuple(accounts.c.keys())
_CONTRACT_KEYS = tuple(contracts.c.keys())
_ACCOUNT_WIDTH = len(_ACCOUNT_KEYS)
assert AccountRow._fields == _ACCOUNT_KEYS and ContractRow._fields == _CONTRACT_KEYS  # rows.py follows models.py


def _insert(connection: Connection, table: Any) -> Any:
    """A dialect insert, so ``on_conflict_*`` is available on SQLite and PostgreSQL."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


# --- reads -------------------------------------------------------------------------------


def account_with_contracts(
    connection: Connection, project_id: int, customer_id: str
) -> tuple[AccountRow | None, list[ContractRow]]:
    """The project's account and its contracts in one indexed round trip (``None`` if the
    project has no such account: another project's customer is not this one's)."""
    if connection.dialect.name == "sqlite":
        raw = driver(connection).execute(_ACCOUNT_WITH_CONTRACTS_SQLITE, (project_id, customer_id))
        rows: Sequence[Sequence[Any]] = [_decode_info(row) for row in raw]
    else:
        params = {"project_id": project_id, "customer_id": customer_id}
        rows = connection.execute(_ACCOUNT_WITH_CONTRACTS, params).all()
    return account_from_rows(rows)


def account_from_rows(
    rows: Sequence[Sequence[Any]], *, info_as_text: bool = False
) -> tuple[AccountRow | None, list[ContractRow]]:
    """The account and its contracts from the joined rows; ``info_as_text``: contracts'
    info still JSON text (a raw driver's rows), decoded here."""
    if not rows:
        return None, []
    if info_as_text:
        rows = [_decode_info(tuple(row)) for row in rows]
    # tuple.__new__ straight from C: a named tuple's _make is a Python call a row
    account = tuple.__new__(AccountRow, rows[0][:_ACCOUNT_WIDTH])
    found = [tuple.__new__(ContractRow, row[_ACCOUNT_WIDTH:]) for row in rows if row[_ACCOUNT_WIDTH] is not None]
    return account, found


def _decode_info(row: tuple[Any, ...]) -> tuple[Any, ...]:
    info = row[_INFO_INDEX]
    if info is None:
        return row
    return (*row[:_INFO_INDEX], _info(info), *row[_INFO_INDEX + 1 :])


@functools.lru_cache(maxsize=4096)
def _info(text: str) -> Any:
    """A contract's info, parsed once per distinct text (verify answers the same contracts
    often; the parsed value is only ever read)."""
    return json.loads(text)


_DEPOSIT = Prepared(select(deposits).where(deposits.c.payment_id == bindparam("payment_id")), row=DepositRow)


def deposit(connection: Connection, payment_id: str) -> DepositRow | None:
    return _DEPOSIT.first(connection, {"payment_id": payment_id})


def signed_statuses(connection: Connection, payment_id: str) -> list[str | None]:
    """The statuses of every signed callback stored for ``payment_id``."""
    query = select(callbacks.c.status).where(callbacks.c.payment_id == payment_id, callbacks.c.signature_ok)
    return list(connection.execute(query).scalars())


def has_account(connection: Connection, project_id: int, customer_id: str) -> bool:
    """Whether the project holds an account of this customer id."""
    a = accounts
    query = select(a.c.customer_id).where(a.c.project_id == project_id, a.c.customer_id == customer_id)
    return connection.execute(query).first() is not None


def contract(connection: Connection, project_id: int, contract_id: str) -> ContractRow | None:
    query = select(contracts).where(contracts.c.project_id == project_id, contracts.c.id == contract_id)
    found = connection.execute(query).first()
    return None if found is None else ContractRow._make(found)


def count(connection: Connection, table: Any, project_id: int | None = None) -> int:
    """Rows of ``table`` (of one project's, when given)."""
    query = select(func.count()).select_from(table)
    if project_id is not None:
        query = query.where(table.c.project_id == project_id)
    return connection.execute(query).scalar_one()


def newest(connection: Connection, column: Any) -> int | None:
    """The largest value of a time column (``traffic.c.at``, ``deposits.c.created_at``)."""
    return connection.execute(select(func.max(column))).scalar()


# --- writes ------------------------------------------------------------------------------


_INSERT_DEPOSIT = inserting(deposits, [c.name for c in deposits.c])


def insert_deposit(connection: Connection, values: dict[str, Any]) -> None:
    """A new pending deposit."""
    _INSERT_DEPOSIT.run(connection, values)


def upsert(
    connection: Connection,
    table: Any,
    key: str | Sequence[str],
    rows: Sequence[dict[str, Any]],
    bump: str | None = None,
) -> None:
    """Insert ``rows``, replacing the non-key columns of rows whose ``key`` (a column, or
    the columns of a composite key) exists, and counting the ``bump`` column (a row version)
    up by one."""
    if not rows:
        return
    keys = [key] if isinstance(key, str) else list(key)
    statement = _insert(connection, table)
    columns = {c for row in rows for c in row} - set(keys)
    values: dict[str, Any] = {c: statement.excluded[c] for c in columns}
    if bump:
        values[bump] = table.c[bump] + 1
    statement = statement.on_conflict_do_update(index_elements=keys, set_=values)
    connection.execute(statement, list(rows))


_CALLBACK_COLUMNS = [c.name for c in callbacks.c if c.name != "id"]
_RECORD_CALLBACK = upserting(
    callbacks,
    _CALLBACK_COLUMNS,
    "dedupe_key",
    {
        "deliveries": callbacks.c.deliveries + 1,
        "last_received_at": lambda excluded: excluded.last_received_at,
    },
    returning=[callbacks.c.id, callbacks.c.deliveries],
    row=CallbackCount,
)


_CALLBACK_DEFAULTS = {c: None for c in _CALLBACK_COLUMNS} | {"deliveries": 1, "outcome": ""}


def record_callback(connection: Connection, values: dict[str, Any]) -> tuple[int, int]:
    """Store a callback, or count one more delivery of a stored one: (id, deliveries)."""
    row = _RECORD_CALLBACK.first(connection, {**_CALLBACK_DEFAULTS, **values})
    assert row is not None  # an upsert returns the row it inserted or updated
    return row.id, row.deliveries


_CALLBACK_OUTCOME = Prepared(
    update(callbacks)
    .where(callbacks.c.id == bindparam("callback_id"))
    .values(outcome=bindparam("new_outcome"), deposit_id=bindparam("deposit"))
)


def set_callback_outcome(connection: Connection, callback_id: int, outcome: str, deposit_id: str | None) -> None:
    _CALLBACK_OUTCOME.run(connection, {"callback_id": callback_id, "new_outcome": outcome, "deposit": deposit_id})


_SETTLE = Prepared(
    update(deposits)
    .where(deposits.c.payment_id == bindparam("pid"), deposits.c.state == "pending")
    .values(state=bindparam("new_state"), paid_amount=bindparam("paid"), updated_at=bindparam("at"))
)


def settle_deposit(connection: Connection, payment_id: str, state: str, paid_amount: int | None, at: int) -> bool:
    """Move a pending deposit to ``state``; False when another callback got there first."""
    params = {"pid": payment_id, "new_state": state, "paid": paid_amount, "at": at}
    return _SETTLE.run(connection, params) == 1


_DUE_LOCKED = Prepared(
    select(contracts.c.payment, contracts.c.credit)
    .where(contracts.c.project_id == bindparam("in_project"), contracts.c.id == bindparam("contract_id"))
    .with_for_update(),
    row=Due,
)
_CREDIT = Prepared(
    update(contracts)
    .where(contracts.c.project_id == bindparam("in_project"), contracts.c.id == bindparam("contract_id"))
    .values(
        payment=case((contracts.c.payment > bindparam("amount"), contracts.c.payment - bindparam("amount")), else_=0),
        # Money past what was due is the contract's credit: kept, not lost (SET reads the old row).
        credit=contracts.c.credit
        + case((bindparam("amount") > contracts.c.payment, bindparam("amount") - contracts.c.payment), else_=0),
        updated_at=bindparam("at"),
        version=contracts.c.version + 1,
    )
    .returning(contracts.c.payment, contracts.c.credit),
    row=Due,
)


_CREDITS = "k24.credits"  # connection.info key: credits held for the end of the transaction


@contextlib.contextmanager
def credits_in_order(connection: Connection) -> Iterator[None]:
    """Credits made inside apply at the end, in (project, contract id) order.

    A group commit credits many contracts; two processes doing so in different orders can
    each lock one contract the other needs next (PostgreSQL breaks that deadlock after a
    second, and a whole group starts over). One order everywhere leaves nothing to break.
    """
    held: list[tuple[tuple[int, str, int, int, str], dict[str, Any]]] = []
    connection.info[_CREDITS] = held
    try:
        yield
    finally:
        connection.info.pop(_CREDITS, None)
    for args, kwargs in sorted(held, key=lambda credit: (credit[0][0], credit[0][1])):
        _credit_now(connection, *args, **kwargs)


def credit_contract(
    connection: Connection,
    project_id: int,
    contract_id: str,
    amount: int,
    at: int,
    payment_id: str,
    *,
    actor: str = "platform",
    kind: str = "payment",
    note: str = "",
    overpaid: Overpaid | None = None,
) -> None:
    """What is due on a contract goes down by ``amount`` (never below zero) and what is paid
    past it goes to the contract's credit, both as deltas in SQL; the audit says a payment
    did it, and which. ``overpaid`` is told of an excess (to flag it). Inside
    :func:`credits_in_order`, at the end of the transaction (the same transaction: all or nothing).
    Only the contract of ``project_id`` is touched: money never crosses projects."""
    args = (project_id, contract_id, amount, at, payment_id)
    kwargs: dict[str, Any] = {"actor": actor, "kind": kind, "note": note, "overpaid": overpaid}
    held = connection.info.get(_CREDITS)
    if held is not None:
        held.append((args, kwargs))
    else:
        _credit_now(connection, *args, **kwargs)


def _credit_now(
    connection: Connection,
    project_id: int,
    contract_id: str,
    amount: int,
    at: int,
    payment_id: str,
    *,
    actor: str,
    kind: str,
    note: str,
    overpaid: Overpaid | None,
) -> None:
    """The row is locked before it is read (PostgreSQL; SQLite's writer holds the write
    lock), so the recorded "before" is exact."""
    key = {"in_project": project_id, "contract_id": contract_id}
    found = _DUE_LOCKED.first(connection, key)
    if found is None:
        return
    after = _CREDIT.first(connection, {**key, "amount": amount, "at": at})
    assert after is not None  # the row is locked: it is still there
    rows = [(name, getattr(found, name), getattr(after, name)) for name in ("payment", "credit")]
    changed = [(name, old, new) for name, old, new in rows if name == "payment" or old != new]
    write_audit(
        connection,
        [
            audit_row(at, actor, kind, "contract", contract_id, name, old, new, note=note, cause=payment_id)
            | {"project_id": project_id}
            for name, old, new in changed
        ],
    )
    if overpaid is not None and after.credit > found.credit:
        excess = after.credit - found.credit
        overpaid(connection, {"contract_id": contract_id, "due": found.payment, "paid": amount, "credit": excess})


# Told of money paid past what was due: (connection, {contract_id, due, paid, credit}).
Overpaid = Callable[[Connection, dict[str, Any]], None]


def flag(
    connection: Connection,
    *,
    key: str,
    kind: str,
    payment_id: str | None,
    evidence: dict[str, Any],
    action: str,
    at: int,
    occurred_at: int | None = None,
    project_id: int | None = None,
) -> None:
    """Record a mismatch once per ``key``; finding it again counts an occurrence. A new
    finding about a fact in a signed period marks that period reopened after sign-off
    (the project's period; any project's when the finding names none)."""
    occurred = occurred_at if occurred_at is not None else at
    statement = _insert(connection, mismatches).values(
        key=key,
        kind=kind,
        project_id=project_id,
        payment_id=payment_id,
        evidence=storable_tree(evidence),
        action=action,
        found_at=at,
        last_seen_at=at,
        occurred_at=occurred,
        state="open",
        note="",
    )
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=["key"],
            set_={"occurrences": mismatches.c.occurrences + 1, "last_seen_at": statement.excluded.last_seen_at},
        )
    )
    if kind not in UNSIGNED_KINDS:
        reopen_signed(connection, occurred, f"{kind} found for {payment_id or key}", at, project_id)


# Findings about what nobody signed (forged callbacks) never reopen a signed period: they
# are not money of the period.
UNSIGNED_KINDS = frozenset({"bad_signature"})


_HOLDING = (
    periods.c.start_at <= bindparam("fact_at"),
    periods.c.end_at > bindparam("fact_at"),
    periods.c.reopened_at.is_(None),
)
_REOPENED: dict[str, Any] = {"reopened_at": bindparam("at"), "reopened_reason": bindparam("reason")}
_REOPEN_ANY = Prepared(update(periods).where(*_HOLDING).values(_REOPENED))
_REOPEN = Prepared(update(periods).where(periods.c.project_id == bindparam("in_project"), *_HOLDING).values(_REOPENED))


def reopen_signed(connection: Connection, fact_at: int, reason: str, at: int, project_id: int | None = None) -> None:
    """Mark the project's signed period holding ``fact_at`` reopened after sign-off (once,
    with why); with no project, any project's."""
    params = {"fact_at": fact_at, "at": at, "reason": reason[:300]}
    if project_id is None:
        _REOPEN_ANY.run(connection, params)
    else:
        _REOPEN.run(connection, {**params, "in_project": project_id})


def audit_row(
    at: int,
    actor: str,
    kind: str,
    entity: str,
    entity_id: str,
    field: str,
    old: Any,
    new: Any,
    *,
    note: str = "",
    cause: str | None = None,
    project: int | None = None,
) -> dict[str, Any]:
    """One audit row: values as text, the kind of history and its cause kept apart;
    ``project`` when the entity belongs to one."""
    return {
        "at": at,
        "project_id": project,
        "actor": actor,
        "kind": kind,
        "entity": entity,
        "entity_id": entity_id,
        "field": field,
        "old": None if old is None else str(old),
        "new": None if new is None else str(new),
        "note": note,
        "cause": cause,
    }


_AUDIT_COLUMNS = ("at", "project_id", "actor", "kind", "entity", "entity_id", "field", "old", "new", "note", "cause")
_INSERT_AUDIT = inserting(audit, _AUDIT_COLUMNS)


def write_audit(connection: Connection, rows: Iterable[dict[str, Any]]) -> None:
    rows = list(rows)
    if rows:
        _INSERT_AUDIT.many(connection, rows)
