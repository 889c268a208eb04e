"""A fresh SQLite database built in one step: the schema the migrations build, replayed.

Every first start (each ``serve``, console, test and CLI run on a new file) used to import
Alembic and run all the migrations, rebuilding tables in batch mode: about 0.2 s of CPU a
start. The migrations stay the only way the schema changes: ``sqlite_head.json`` is what
they leave in an empty database at the newest revision (its ``sqlite_master`` and rows),
written by ``python -m kassa24_console.store.fresh`` and checked by
``tests/test_migrations.py`` to build exactly what migrating builds. A database that is not
empty, or a snapshot of an older revision than the newest migration, goes through Alembic.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SNAPSHOT = MIGRATIONS / "sqlite_head.json"
# The project migration 0011 writes into the schema (SQLite's NOT NULL column default): the
# snapshot is made with this one and it is replaced by the configured project.
PROJECT_MARK = 424242424


def head() -> str | None:
    """The newest migration's revision, read from the migration files (the one no other
    names as its ``down_revision``); None unless there is exactly one."""
    revisions, downs = set(), set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        if found := re.search(r'^revision = "([^"]+)"', text, re.MULTILINE):
            revisions.add(found.group(1))
        if found := re.search(r'^down_revision = "([^"]+)"', text, re.MULTILINE):
            downs.add(found.group(1))
    heads = revisions - downs
    return heads.pop() if len(heads) == 1 else None


def _statements(connection: Connection) -> list[str]:
    """What builds the database ``connection`` holds: its tables, indexes and triggers in
    the order SQLite made them (tables first), then the rows of its non-shadow tables."""
    master = connection.exec_driver_sql("SELECT type, name, sql FROM sqlite_master ORDER BY rowid").all()
    virtual = [name for kind, name, sql in master if kind == "table" and sql and sql.startswith("CREATE VIRTUAL")]

    def own(name: str) -> bool:  # not SQLite's, nor a virtual table's shadow (made with it)
        return not name.startswith("sqlite_") and not any(name.startswith(f"{v}_") for v in virtual)

    order = {"table": 0, "index": 1, "trigger": 2, "view": 3}
    made = sorted((order[kind], i) for i, (kind, name, sql) in enumerate(master) if sql and own(name))
    statements = [master[i][2] for _, i in made]
    for kind, name, _ in master:
        if kind != "table" or not own(name) or name in virtual:
            continue
        columns = [row[1] for row in connection.exec_driver_sql(f'PRAGMA table_info("{name}")')]
        values = " || ', ' || ".join(f'quote("{column}")' for column in columns)
        for (row,) in connection.exec_driver_sql(f'SELECT {values} FROM "{name}"'):
            statements.append(f'INSERT INTO "{name}" VALUES ({row})')
    return statements


def snapshot(connection: Connection, revision: str) -> dict[str, Any]:
    """The snapshot of a database just migrated to ``revision`` with project ``PROJECT_MARK``."""
    return {"revision": revision, "project_mark": str(PROJECT_MARK), "statements": _statements(connection)}


def build(connection: Connection, head: str | None, project_id: int) -> bool:
    """Build an empty SQLite database at ``head`` from the snapshot; False (nothing done)
    when there is no snapshot of that revision."""
    try:
        saved = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return False
    if head is None or saved["revision"] != head:
        return False
    mark = f"'{saved['project_mark']}'"
    for statement in saved["statements"]:
        connection.exec_driver_sql(statement.replace(mark, f"'{int(project_id)}'"))
    return True


def main() -> None:
    """Write ``sqlite_head.json`` from the migrations (run after adding one)."""
    import tempfile  # a developer's tool: none of this is imported to open a store

    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine

    with tempfile.TemporaryDirectory() as directory:
        engine = create_engine(f"sqlite:///{directory}/head.db")
        with engine.begin() as connection:
            config = Config()  # as store.db.alembic_config makes it
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes.update(connection=connection, project_id=PROJECT_MARK)
            command.upgrade(config, "head")
        with engine.connect() as connection:
            saved = snapshot(connection, head() or "")
        engine.dispose()
    SNAPSHOT.write_text(json.dumps(saved, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
