"""The statements behind what people change: an operator's edits, an import, the audit
history, the demo data, the traffic kept for replay, and the pruning of old traffic.

Reads return typed rows (named tuples) so the layers above never hold a row as ``Any``.
Writes run inside a writer job; an operator's edit of a contract is a conditional update
against the values they saw (never a value read earlier written back).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Connection, Table, and_, delete, or_, select, update

from .queries import accounts, audit, callbacks, contracts, deposits, mismatches, traffic
from .rows import AuditEntry

_AUDIT_COLUMNS = [audit.c[name] for name in AuditEntry._fields]  # what an AuditEntry is read from


def _entries(connection: Connection, *conditions: ColumnElement[bool]) -> list[AuditEntry]:
    query = select(*_AUDIT_COLUMNS).where(*conditions).order_by(audit.c.at, audit.c.id)
    return [AuditEntry._make(row) for row in connection.execute(query)]


def history(
    connection: Connection,
    *,
    contract: str | None = None,
    customer: str | None = None,
    since: int | None = None,
    project: int | None = None,
) -> list[AuditEntry]:
    """Audit rows, oldest first, narrowed by contract, customer (its account and contracts),
    time (UTC µs) and project."""
    a, c = audit, contracts
    conditions: list[ColumnElement[bool]] = [] if project is None else [a.c.project_id == project]
    if contract is not None:
        conditions.append(and_(a.c.entity == "contract", a.c.entity_id == contract))
    if customer is not None:
        theirs = select(c.c.id).where(
            c.c.customer_id == customer, *([] if project is None else [c.c.project_id == project])
        )
        conditions.append(
            or_(
                and_(a.c.entity == "account", a.c.entity_id == customer),
                and_(a.c.entity == "contract", a.c.entity_id.in_(theirs)),
            )
        )
    if since is not None:
        conditions.append(a.c.at >= since)
    return _entries(connection, *conditions)


def contract_changes_after(connection: Connection, project: int, contract_id: str, after: int) -> list[AuditEntry]:
    """What was recorded about the project's contract after ``after`` (UTC µs), in order
    written. A contract id is unique only within its project: another project's contract of
    the same id is another contract, and its changes are never cited as this one's."""
    a = audit
    query = (
        select(*_AUDIT_COLUMNS)
        .where(a.c.project_id == project, a.c.entity == "contract", a.c.entity_id == contract_id, a.c.at > after)
        .order_by(a.c.id)
    )
    return [AuditEntry._make(row) for row in connection.execute(query)]


# --- an operator's edits --------------------------------------------------------------------


def update_contract_if_unchanged(
    connection: Connection,
    project_id: int,
    contract_id: str,
    seen: Mapping[str, Any],
    changed: Mapping[str, Any],
    at: int,
) -> bool:
    """Set ``changed`` on the contract only where each of those fields still holds the value
    in ``seen`` (compare-and-set), counting its version up; False when it no longer does."""
    c = contracts
    unchanged = [c.c[f].is_(None) if seen[f] is None else c.c[f] == seen[f] for f in changed]
    result = connection.execute(
        update(c)
        .where(c.c.project_id == project_id, c.c.id == contract_id, *unchanged)
        .values(**changed, updated_at=at, version=c.c.version + 1)
    )
    return result.rowcount == 1


def insert_account(connection: Connection, values: Mapping[str, Any]) -> None:
    connection.execute(accounts.insert().values(**values))


def insert_contract(connection: Connection, values: Mapping[str, Any]) -> None:
    connection.execute(contracts.insert().values(**values))


class MismatchState(NamedTuple):
    """What resolving or reopening a mismatch needs to know of it."""

    state: str
    kind: str
    payment_id: str | None
    occurred_at: int | None
    found_at: int
    project_id: int | None


def mismatch_state(connection: Connection, mismatch_id: int) -> MismatchState | None:
    m = mismatches
    query = select(*[m.c[name] for name in MismatchState._fields]).where(m.c.id == mismatch_id)
    row = connection.execute(query).first()
    return None if row is None else MismatchState._make(row)


def set_mismatch(connection: Connection, mismatch_id: int, values: Mapping[str, Any]) -> None:
    """Set a mismatch's state, who resolved it and when, and its note."""
    connection.execute(update(mismatches).where(mismatches.c.id == mismatch_id).values(**values))


# --- an import ------------------------------------------------------------------------------


def known_customers(connection: Connection, project_id: int, customer_ids: Collection[str]) -> set[str]:
    """Which of ``customer_ids`` the project holds an account of."""
    a = accounts
    query = select(a.c.customer_id).where(a.c.project_id == project_id, a.c.customer_id.in_(customer_ids))
    return set(connection.execute(query).scalars())


_CHUNK = 500  # keys per IN list: well under every driver's limit of bound parameters


def fields_by_key(
    connection: Connection, table: Table, key: str, fields: Sequence[str], ids: Sequence[str], project_id: int
) -> dict[str, dict[str, Any]]:
    """``fields`` of the project's rows of ``table`` whose ``key`` is one of ``ids``, by key
    (values as stored: an import compares them with what it brings)."""
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        query = select(table.c[key], *[table.c[f] for f in fields]).where(
            table.c.project_id == project_id, table.c[key].in_(chunk)
        )
        for row in connection.execute(query):
            found[row[0]] = dict(row._mapping)
    return found


# --- the demo's history, traffic kept ---------------------------------------------------------

_DEMO_TABLES = {"deposits": deposits, "callbacks": callbacks, "traffic": traffic, "mismatches": mismatches}


def insert_history(connection: Connection, name: str, rows: Iterable[Mapping[str, Any]]) -> None:
    """Rows into one of the tables a payment's history lives in (``deposits``, ``callbacks``,
    ``traffic``, ``mismatches``), as given: the demo data's, written into a fresh database."""
    rows = list(rows)
    if rows:
        connection.execute(_DEMO_TABLES[name].insert(), rows)


class Exchange(NamedTuple):
    """A traffic record as kept: what was asked, what we answered (for replay)."""

    id: int
    kind: str
    project_id: int | None
    signature_ok: bool | None
    request: str


def exchange(connection: Connection, traffic_id: int) -> Exchange | None:
    t = traffic
    query = select(*[t.c[name] for name in Exchange._fields]).where(t.c.id == traffic_id)
    row = connection.execute(query).first()
    return None if row is None else Exchange._make(row)


def prune_traffic(connection: Connection, cutoff: int, limit: int) -> int:
    """Delete up to ``limit`` of the oldest traffic records made before ``cutoff``; how many."""
    t = traffic
    oldest = select(t.c.id).where(t.c.at < cutoff).order_by(t.c.at).limit(limit).scalar_subquery()
    return connection.execute(delete(t).where(t.c.id.in_(oldest))).rowcount
