"""A fresh SQLite database is built in one step from ``sqlite_head.json``: exactly what the
migrations build, for any project, without importing Alembic."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine

from kassa24_console.store.db import alembic_config, create_schema
from kassa24_console.store.fresh import SNAPSHOT, head


def _everything(path: Path) -> tuple[list[tuple[str, ...]], dict[str, list[tuple[object, ...]]]]:
    """The schema (every ``sqlite_master`` entry) and every table's rows."""
    with sqlite3.connect(path) as db:
        master = sorted(db.execute("SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_master").fetchall())
        tables = [name for kind, name, _, _ in master if kind == "table"]
        rows = {name: sorted(db.execute(f'SELECT * FROM "{name}"').fetchall(), key=repr) for name in tables}
    return master, rows


@pytest.mark.parametrize("project_id", [None, 4242])
def test_a_fresh_database_is_built_exactly_as_the_migrations_build_it(tmp_path: Path, project_id: int | None) -> None:
    migrated, built = tmp_path / "migrated.db", tmp_path / "built.db"
    engine = create_engine(f"sqlite:///{migrated}")
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection, project_id), "head")
    engine.dispose()
    engine = create_engine(f"sqlite:///{built}")
    with engine.begin() as connection:
        assert create_schema(connection, project_id=project_id) is True
    with engine.begin() as connection:
        assert create_schema(connection, project_id=project_id) is False  # at head: nothing to do
    engine.dispose()
    master, rows = _everything(built)
    assert (master, rows) == _everything(migrated)
    assert f"DEFAULT '{project_id or 1234}'" in str(master)  # the project, not the snapshot's mark
    assert rows["alembic_version"] == [(head(),)]
    with sqlite3.connect(built) as db:  # the search index works as the migrated one does
        db.execute("INSERT INTO contract_search (project_id, contract_id, terms) VALUES (1, 'c1', 'almaty 7001')")
        found = db.execute("SELECT rowid FROM contract_search_fts WHERE contract_search_fts MATCH 'almaty'").fetchall()
        assert found == [(1,)]
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


def test_the_snapshot_is_of_the_newest_migration() -> None:
    saved = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    assert saved["revision"] == head(), "a new migration: run python -m kassa24_console.store.fresh"


def test_a_first_start_imports_no_alembic(tmp_path: Path) -> None:
    script = (
        "import sys; from sqlalchemy import create_engine; from kassa24_console.store.db import create_schema\n"
        f"e = create_engine('sqlite:///{tmp_path / 'k.db'}')\n"
        "with e.begin() as c: print(create_schema(c), 'alembic' in sys.modules, 'mako' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == ["True", "False", "False"], done.stderr
