"""Which operation ids are stored as another project's (``store.platform.claimed_elsewhere``),
asked a slice of ids at a time through one prepared statement on SQLite: every slice, the
short last one (filled with NULLs) included, finds exactly those, in the order given."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine

from kassa24_console.store.db import create_schema
from kassa24_console.store.platform import OPERATION_COLUMNS, claimed_elsewhere, upsert_operations


def _operation(operation_id: str, project: int | None) -> tuple[object, ...]:
    values = {
        "operation_id": operation_id, "payment_id": f"k24_{operation_id}", "status": "success", "amount": 100,
        "currency": "KZT", "type": "sale", "method": "", "project_id": project, "customer_id": None,
        "created_at": 1, "completed_at": 1, "source": "test", "imported_at": 1,
    }  # fmt: skip
    return tuple(values[name] for name in OPERATION_COLUMNS)


def test_ids_stored_as_another_projects_are_found_in_every_slice(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'k24.db'}")
    with engine.begin() as connection:
        create_schema(connection)
        # 1 201 operations: the even ones another project's, some odd ones naming none.
        rows = [_operation(str(i), 2 if i % 2 == 0 else None if i % 50 == 25 else 1) for i in range(1201)]
        upsert_operations(connection, rows)
    asked = [str(i) for i in range(1300, -1, -2)] + ["25", "3"]  # 2 slices, the last short; some not stored
    with engine.connect() as connection:
        found = claimed_elsewhere(connection, 1, asked)
        none_of_two = claimed_elsewhere(connection, 2, [str(i) for i in range(0, 1201, 2)])
    stored = {str(i): row[OPERATION_COLUMNS.index("project_id")] for i, row in enumerate(rows)}
    wanted = [(i, stored[i]) for i in asked if i in stored and stored[i] != 1]  # NULL is distinct from 1
    assert found == wanted and len(found) == 601 + 1
    assert none_of_two == []  # its own operations are not another project's
    with engine.connect() as connection:
        # An operation naming no project is another project's for project 2 (NULL is distinct from 2).
        assert claimed_elsewhere(connection, 2, ["75", "8", "nope", "9"]) == [("75", None), ("9", 1)]
        assert claimed_elsewhere(connection, 1, []) == []
    engine.dispose()
