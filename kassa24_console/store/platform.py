"""The platform's record of operations, kept by operation id: a month is 100 000 rows, so
they are written as plain tuples through one statement prepared once (SQLite: the driver's
``executemany``; SQLAlchemy's per-row parameter handling was most of storing a report)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite

from .prepared import Prepared
from .queries import operations
from .sqlite import driver

# Every column but the row id, in this order in each row given to :func:`upsert_operations`.
OPERATION_COLUMNS = tuple(c.name for c in operations.c if c.name != "id")


def _replacing(dialect: Any) -> Any:
    statement = dialect.insert(operations).values({c: bindparam(c) for c in OPERATION_COLUMNS})
    others = {c: statement.excluded[c] for c in OPERATION_COLUMNS if c != "operation_id"}
    # Only the same project's operation is replaced: one project's report never overwrites
    # (nor moves to itself) another's operation of that id, even in a race that slipped past
    # :func:`claimed_elsewhere`.
    same_project = operations.c.project_id.is_not_distinct_from(statement.excluded.project_id)
    return statement.on_conflict_do_update(index_elements=["operation_id"], set_=others, where=same_project)


_UPSERT = Prepared(_replacing(sqlite), postgres=_replacing(postgresql))
assert _UPSERT.names == OPERATION_COLUMNS, "the statement's parameters are the columns, in order"


def upsert_operations(connection: Connection, rows: Sequence[Sequence[Any]]) -> None:
    """Insert the operations (tuples in :data:`OPERATION_COLUMNS` order), replacing every
    other column of those whose operation id is already stored as the same project's; one
    stored as another project's is left as it is."""
    if not rows:
        return
    if connection.dialect.name == "sqlite":
        driver(connection).executemany(_UPSERT.sqlite_text, rows)
    else:
        connection.execute(_UPSERT.postgres, [dict(zip(OPERATION_COLUMNS, row, strict=True)) for row in rows])


_SLICE = 500  # operation ids a statement asks for
_CLAIMED = Prepared(
    select(operations.c.operation_id, operations.c.project_id).where(
        operations.c.operation_id.in_([bindparam(f"id{k}") for k in range(_SLICE)]),
        operations.c.project_id.is_distinct_from(bindparam("project")),
    )
)


def claimed_elsewhere(connection: Connection, project: int, operation_ids: Sequence[str]) -> list[tuple[str, int]]:
    """Of ``operation_ids``, those stored as another project's operation: (operation id,
    that project), in the order given. Asked through the operation id's unique index, a
    slice at a time (a month is 100 000 ids): on SQLite one statement prepared once, a
    short last slice filled with NULLs (which match nothing)."""
    o = operations.c
    found: dict[str, int] = {}
    sqlite_driver = connection.dialect.name == "sqlite"
    for start in range(0, len(operation_ids), _SLICE):
        part = list(operation_ids[start : start + _SLICE])
        if sqlite_driver:
            params: dict[str, Any] = {f"id{k}": value for k, value in enumerate(part)}
            found.update(_CLAIMED.all(connection, params | {"project": project}))
            continue
        others = o.project_id.is_distinct_from(project)
        query = select(o.operation_id, o.project_id).where(o.operation_id.in_(part), others)
        found.update(connection.execute(query).tuples().all())
    return [(op, found[op]) for op in operation_ids if op in found]
