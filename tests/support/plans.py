"""SQLite's query plans of what a read runs: a list or search must walk no big table whole."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine

BIG = ("traffic", "contracts", "accounts", "callbacks", "mismatches", "deposits", "audit")


FULL_SCAN = re.compile(rf"\bSCAN ({'|'.join(BIG)})\b(?! USING (COVERING )?INDEX)")


def plans(database: Path, query: Any, *args: Any) -> list[str]:
    """Run ``query(connection, *args)`` and return the plan of every statement it ran
    (as SQLite saw them: through SQLAlchemy or straight on the driver)."""
    engine = create_engine(f"sqlite:///{database}")
    with engine.connect() as connection:
        raw = connection.connection.dbapi_connection
        seen: list[str] = []
        raw.set_trace_callback(seen.append)
        query(connection, *args)
        raw.set_trace_callback(None)
        details = [
            " / ".join(row[3] for row in raw.execute(f"EXPLAIN QUERY PLAN {statement}"))
            for statement in seen
            if statement.lstrip().upper().startswith(("SELECT", "WITH"))
        ]
    engine.dispose()
    assert details, "the query ran no statement"
    return details


def assert_indexed(details: list[str], *, sorts: bool = False) -> None:
    for detail in details:
        assert not FULL_SCAN.search(detail), detail
        if not sorts:
            assert "TEMP B-TREE FOR ORDER BY" not in detail, detail
