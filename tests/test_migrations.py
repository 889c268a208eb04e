"""Schema changes go through migrations; the models and the migrations never drift apart."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine
from sqlmodel import SQLModel

from kassa24_console.store import models  # noqa: F401
from kassa24_console.store.db import alembic_config, create_schema
from tests.support.cli import run_cli


def _engine(path: Path):
    return create_engine(f"sqlite:///{path}")


def _not_search(name: str | None, kind: str, _parents: object) -> bool:
    return not (kind == "table" and name is not None and name.startswith("contract_search"))


def test_migrations_build_exactly_the_schema_the_models_describe(tmp_path: Path) -> None:
    engine = _engine(tmp_path / "k.db")
    with engine.begin() as connection:
        assert create_schema(connection) is True
    with engine.connect() as connection:
        # The search index (migration 0009) is SQLite's own FTS5 tables, not a model.
        context = MigrationContext.configure(connection, opts={"include_name": _not_search})
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == []
    with engine.begin() as connection:
        assert create_schema(connection) is False  # a second start changes nothing


def test_upgrade_from_the_first_released_schema_keeps_the_data(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    engine = _engine(path)
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0001")
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchone() == ("0001",)
        assert not db.execute("SELECT name FROM sqlite_master WHERE name = 'platform_operations'").fetchall()
        db.execute("INSERT INTO accounts VALUES ('7001', NULL, 'KZT', 'Old', 0)")
        db.execute("INSERT INTO deposits VALUES ('k24_old', '7001', NULL, NULL, 100, 'KZT', 'paid', 100, 1, 1)")
    engine.dispose()
    # Starting the program on the old database upgrades it.
    result = run_cli(
        "--database-url",
        f"sqlite:///{path}",
        "db",
        "info",
        env={"KASSA24_SECRET_KEY": "s", "KASSA24_LOG_FILE": str(tmp_path / "log"), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert "deposits     1" in result.stdout
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchone() == ("0013",)
        assert db.execute("SELECT payment_id, state FROM deposits").fetchall() == [("k24_old", "paid")]
        assert db.execute("SELECT count(*) FROM platform_operations").fetchone() == (0,)


def test_a_database_made_before_migrations_is_adopted(tmp_path: Path) -> None:
    engine = _engine(tmp_path / "legacy.db")
    SQLModel.metadata.create_all(engine)
    with engine.begin() as connection:
        assert create_schema(connection) is False
    with sqlite3.connect(tmp_path / "legacy.db") as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchone() == ("0013",)


def test_the_traffic_payment_id_is_back_filled_from_what_each_record_stored(tmp_path: Path) -> None:
    path = tmp_path / "before.db"
    engine = _engine(path)
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0010")
    callback = '{"project_id": 1234, "payment": {"id": "k24_paid", "status": "success"}}'
    records = [
        ("check_deposit", True, '{"code": 0, "payment_id": "k24_minted", "description": "ok"}', "{}"),
        ("check_deposit", True, '{"code": 2, "message": "no such account"}', "{}"),  # no payment minted
        ("check_deposit", None, "not json at all", "{}"),
        ("check_deposit", True, '{"code": 0, "payment_id": 17}', "{}"),  # not a payment id of ours
        ("callback", True, '{"status": "ok", "outcome": "applied"}', callback),
        ("callback", False, '{"error": "signature error"}', callback),  # forged: its id is not believed
        ("verify", True, '{"code": 0, "payment_id": "k24_verify"}', "{}"),
    ]
    with sqlite3.connect(path) as db:
        db.executemany(
            "INSERT INTO traffic (at, kind, http_status, signature_ok, latency_us, peer, request, response) "
            "VALUES (1, ?, 200, ?, 0, '', ?, ?)",
            [(kind, ok, request, response) for kind, ok, response, request in records],
        )
    with engine.begin() as connection:
        assert create_schema(connection) is False
    engine.dispose()
    with sqlite3.connect(path) as db:
        found = db.execute("SELECT kind, payment_id FROM traffic ORDER BY id").fetchall()
        indexes = {row[1] for row in db.execute("PRAGMA index_list('traffic')")}
        assert db.execute("SELECT version_num FROM alembic_version").fetchone() == ("0013",)
    assert found == [
        ("check_deposit", "k24_minted"),
        ("check_deposit", None),
        ("check_deposit", None),
        ("check_deposit", None),
        ("callback", "k24_paid"),
        ("callback", None),
        ("verify", None),
    ]
    assert "ix_traffic_payment_id" in indexes


def test_a_one_project_database_keeps_every_row_and_gets_the_configured_project(tmp_path: Path) -> None:
    """Migration 0011: every record of a database made for one project belongs to the
    configured project afterwards, nothing is lost, and the search and change counters
    (whose triggers go with the rebuilt tables on SQLite) still work."""
    path = tmp_path / "one.db"
    engine = _engine(path)
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0010")
    rows = {
        "accounts": ["INSERT INTO accounts VALUES ('7001', 'A7001', 'KZT', 'Айгерим', 1)"],
        "contracts": [
            "INSERT INTO contracts (id, customer_id, number, payment, min_payment, status_code, status_text, info,"
            " updated_at, version, credit) VALUES ('C-1', '7001', 'N-1', 5000, NULL, 0, '', '{\"a\": 1}', 1, 3, 7)"
        ],
        "deposits": ["INSERT INTO deposits VALUES ('k24_a', '7001', 'C-1', 'N-1', 100, 'KZT', 'paid', 100, 1, 2)"],
        "callbacks": [
            "INSERT INTO callbacks (received_at, last_received_at, deliveries, dedupe_key, signature_ok, payment_id,"
            " outcome, raw) VALUES (2, 2, 1, 'k24_a|1|success', 1, 'k24_a', 'applied', '{}')"
        ],
        "traffic": [
            "INSERT INTO traffic (at, kind, http_status, latency_us, peer, request, response)"
            " VALUES (1, 'verify', 200, 5, '127.0.0.1', '{}', '{}')"
        ],
        "mismatches": [
            "INSERT INTO mismatches (key, kind, action, found_at, state, note, evidence)"
            " VALUES ('unknown_payment:x', 'unknown_payment', '', 1, 'open', '', '{}')"
        ],
        "periods": ["INSERT INTO periods (start_at, end_at, signed_by, signed_at) VALUES (0, 10, 'op', 11)"],
        "platform_coverage": [
            "INSERT INTO platform_coverage (day, source, operations, applied_at, applied_by)"
            " VALUES ('2026-11-01', 'r.csv', 3, 1, 'op')"
        ],
        "audit": [
            "INSERT INTO audit (at, actor, entity, entity_id, field, old, new, kind, note, cause)"
            " VALUES (1, 'op', 'contract', 'C-1', 'payment', '5100', '5000', 'payment', '', 'k24_a')"
        ],
    }
    with sqlite3.connect(path) as db:
        for statements in rows.values():
            for statement in statements:
                db.execute(statement)
        before = {table: db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in rows}
    with engine.begin() as connection:
        create_schema(connection, project_id=4242)
    engine.dispose()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchone() == ("0013",)
        for table in rows:
            assert db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == before[table] == 1, table
            assert db.execute(f"SELECT DISTINCT project_id FROM {table}").fetchall() == [(4242,)], table
        assert db.execute("SELECT dedupe_key FROM callbacks").fetchall() == [("k24_a|1|success|4242",)]
        contract = db.execute("SELECT payment, credit, version, info FROM contracts WHERE id = 'C-1'").fetchone()
        assert contract == (5000, 7, 3, '{"a": 1}')
        found = "SELECT project_id, contract_id FROM contract_search WHERE id IN"
        found += " (SELECT rowid FROM contract_search_fts WHERE contract_search_fts MATCH ?)"
        assert db.execute(found, ('"йгер"',)).fetchall() == [(4242, "C-1")]
        # Another project may hold the same customer and contract ids; the counters count.
        counted = "SELECT n FROM table_changes WHERE name = 'contracts'"
        n = db.execute(counted).fetchone()[0]
        db.execute("INSERT INTO accounts VALUES (4343, '7001', NULL, 'KZT', 'Test', 1)")
        db.execute(
            "INSERT INTO contracts (project_id, id, customer_id, number, payment, status_code, status_text,"
            " updated_at) VALUES (4343, 'C-1', '7001', 'T-1', 1, 0, '', 1)"
        )
        assert db.execute(counted).fetchone()[0] == n + 1
        assert db.execute(found, ('"T-1"',)).fetchall() == [(4343, "C-1")]
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA foreign_keys=ON")  # as the store's connections have it
        with pytest.raises(sqlite3.IntegrityError):  # a contract of an account the project does not have
            db.execute(
                "INSERT INTO contracts (project_id, id, customer_id, number, payment, status_code, status_text,"
                " updated_at) VALUES (4444, 'C-9', '7001', 'X', 1, 0, '', 1)"
            )
    finally:
        db.close()
