"""Contract search by any part of a customer id, contract id, number or account name, in
any case, Cyrillic and Kazakh letters too, at both backends: its answers, that it follows
imports and renames, and that its query plan uses the index (migration 0009)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from kassa24_console import importer
from kassa24_console.store import Store, views
from kassa24_console.store import queries as q
from tests.support.plans import assert_indexed, plans
from tests.support.postgres import create_database, postgres  # noqa: F401 - the fixture

ACCOUNTS = [
    ("7011000001", "Айгерим Нурланова"),
    ("7011000002", "Ирина Петрова"),
    ("7011000003", "Әлия Қасымқызы Өтеғұлова"),
    ("7011000004", "Acme Ltd"),
]
CONTRACTS = [
    ("C-30001", "7011000001", "ДОГ-2026/15"),
    ("C-30002", "7011000002", "N/777"),
    ("K-41003", "7011000003", "ҚР-001"),
    ("K-41004", "7011000004", "Z/9"),
]
# (what an operator types, the contracts it must find)
CASES = [
    ("Нурланова", {"C-30001"}),  # the middle of a name
    ("нурлан", {"C-30001"}),  # …in another case
    ("ирина", {"C-30002"}),  # lower case finds a capital
    ("ҚАСЫМ", {"K-41003"}),  # Kazakh letters, upper case finds lower
    ("өтеғұл", {"K-41003"}),
    ("c-3", {"C-30001", "C-30002"}),  # the start of a contract id, in another case
    ("0002", {"C-30002"}),  # the end of a customer id or of a contract id
    ("дог-2026", {"C-30001"}),  # a number, another case
    ("/77", {"C-30002"}),
    ("ltd", {"K-41004"}),
    ("k24_search_paid", {"K-41004"}),  # a payment id finds what it paid into
    ("петрова нурланова", set()),  # a match never spans two fields or accounts
    ("Ир", {"C-30002"}),  # two characters: the start of a field, as typed
    ('"', set()),  # quotes and LIKE wildcards are plain characters
    ("%", set()),
    ("_", set()),
]


async def _seed(url: str) -> None:
    store = Store(url)
    await store.open()
    try:
        accounts = [
            {"customer_id": c, "additional_customer_id": None, "currency": "KZT", "name": n} for c, n in ACCOUNTS
        ]
        contracts = [
            {"id": i, "customer_id": c, "number": n, "payment": 1000, "min_payment": None, "status_code": 0,
             "status_text": "", "info": None}
            for i, c, n in CONTRACTS
        ]  # fmt: skip
        await importer.apply(store, importer.Batch(accounts, contracts, ["search.csv"]), actor="test")
        at = 1_700_000_000_000_000
        deposit = {
            "payment_id": "k24_search_paid", "project_id": 1234,
            "customer_id": "7011000004", "contract_id": "K-41004", "number": "Z/9",
            "amount": 100, "currency": "KZT", "state": "pending", "created_at": at, "updated_at": at,
        }  # fmt: skip
        await store.write(lambda connection: q.insert_deposit(connection, deposit))
    finally:
        await store.close()


async def _found(url: str, search: str) -> tuple[set[str], int]:
    store = Store(url)
    try:
        page = await store.read(views.contracts_page, search)
        return {row.id for row in page}, await store.read(views.contracts_count, search)
    finally:
        await store.db.dispose()


def _check_cases(url: str) -> None:
    for search, expected in CASES:
        found, counted = asyncio.run(_found(url, search))
        assert (search, found, counted) == (search, expected, len(expected))


async def _rename_and_renumber(url: str) -> None:
    """An import that renames an account and renumbers a contract; the search follows."""
    store = Store(url)
    await store.open()
    try:
        account = {"customer_id": "7011000002", "additional_customer_id": None, "currency": "KZT", "name": "Ирина Ким"}
        contract = {"id": "C-30002", "customer_id": "7011000002", "number": "Ж-555", "payment": 1000,
                    "min_payment": None, "status_code": 0, "status_text": "", "info": None}  # fmt: skip
        await importer.apply(store, importer.Batch([account], [contract], ["rename.csv"]), actor="test")
    finally:
        await store.close()


def _check_follow(url: str) -> None:
    asyncio.run(_rename_and_renumber(url))
    assert asyncio.run(_found(url, "ким"))[0] == {"C-30002"}
    assert asyncio.run(_found(url, "петрова"))[0] == set()
    assert asyncio.run(_found(url, "ж-555"))[0] == {"C-30002"}
    assert asyncio.run(_found(url, "N/777"))[0] == set()
    assert asyncio.run(_found(url, "нурланова"))[0] == {"C-30001"}  # the others untouched


def test_search_by_any_part_in_any_case_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'k.db'}"
    asyncio.run(_seed(url))
    _check_cases(url)
    _check_follow(url)


def test_search_by_any_part_in_any_case_on_postgresql(postgres: str) -> None:  # noqa: F811
    url = create_database(postgres, "search")
    asyncio.run(_seed(url))
    _check_cases(url)
    _check_follow(url)


@pytest.fixture(scope="module")
def big_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Enough contracts (through the triggers) for the planner to tell a scan from a lookup."""
    path = tmp_path_factory.mktemp("search") / "k.db"
    asyncio.run(_seed(f"sqlite:///{path}"))
    import sqlite3

    with sqlite3.connect(path) as db:
        db.executemany(
            "INSERT INTO accounts (project_id, customer_id, currency, name, updated_at) VALUES (1234, ?, 'KZT', ?, 0)",
            [(f"72{i:08d}", f"Клиент Номер {i}") for i in range(3000)],
        )
        db.executemany(
            "INSERT INTO contracts (project_id, id, customer_id, number, payment, status_code, status_text, updated_at,"
            " version) VALUES (1234, ?, ?, ?, 100, 0, '', 0, 1)",
            [(f"B-{i}", f"72{i:08d}", f"B/{i}") for i in range(3000)],
        )
        db.execute("ANALYZE")
    return path


@pytest.mark.parametrize("search", ["урланов", "Клиент номер 12", "c-3", "Ир"])
def test_the_sqlite_search_plan_uses_the_trigram_index(big_sqlite: Path, search: str) -> None:
    details = plans(big_sqlite, views.contracts_page, search, 500, 0)
    assert_indexed(details, sorts=True)
    joined = " | ".join(details)
    assert not re.search(r"SCAN contract_search\b(?!_fts)", joined), joined  # the terms only by their key
    assert not re.search(r"contract_search_fts VIRTUAL TABLE INDEX \d+:(?!M)", joined), joined  # never walked whole
    if len(search) >= views.FRAGMENT_MIN:  # the trigram index answers the MATCH
        assert "contract_search_fts VIRTUAL TABLE INDEX 0:M" in joined, joined
    found, _ = asyncio.run(_found(f"sqlite:///{big_sqlite}", search))
    assert found, search


def test_the_postgresql_search_plan_uses_the_trigram_indexes(postgres: str) -> None:  # noqa: F811
    url = create_database(postgres, "searchplan")
    asyncio.run(_seed(url))
    asyncio.run(_fill_postgres(url, 30_000))
    statements, found = asyncio.run(_plan_postgres(url, "урланов"))
    assert found == {"C-30001"}
    (plan,) = statements
    for index in ("ix_contracts_terms_trgm", "ix_accounts_name_trgm"):
        assert f"Bitmap Index Scan on {index}" in plan, plan
    assert "Seq Scan on contracts" not in plan and "Seq Scan on accounts" not in plan, plan


async def _fill_postgres(url: str, rows: int) -> None:
    store = Store(url)
    try:

        def fill(connection: Any) -> None:
            connection.execute(
                text(
                    "INSERT INTO accounts (project_id, customer_id, currency, name, updated_at)"
                    " SELECT 1234, '73' || lpad(i::text, 8, '0'), 'KZT', 'Клиент Номер ' || i, 0"
                    " FROM generate_series(1, :n) i"
                ),
                {"n": rows},
            )
            connection.execute(
                text(
                    "INSERT INTO contracts (project_id, id, customer_id, number, payment, status_code, status_text,"
                    " updated_at, version) SELECT 1234, 'P-' || i, '73' || lpad(i::text, 8, '0'), 'P/' || i,"
                    " 100, 0, '', 0, 1"
                    " FROM generate_series(1, :n) i"
                ),
                {"n": rows},
            )

        await store.db.transaction(fill)
        await store.db.transaction(lambda connection: connection.exec_driver_sql("ANALYZE"))
    finally:
        await store.db.dispose()


async def _plan_postgres(url: str, search: str) -> tuple[list[str], set[str]]:
    """The search as the console runs it, and EXPLAIN of each contracts SELECT it sent."""
    store = Store(url)
    seen: list[tuple[str, Any]] = []
    assert store.db._async is not None
    sync_engine = store.db._async.sync_engine

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    event.listen(sync_engine, "before_cursor_execute", capture)
    try:
        found = {row.id for row in await store.read(views.contracts_page, search)}
        event.remove(sync_engine, "before_cursor_execute", capture)

        def explain(connection: Any) -> list[str]:
            # At test size walking a table (or its primary key) may be cheaper than the
            # trigram index; what must hold is that the indexes can answer every part of
            # the search (at a million rows the planner takes them: README, Benchmarks).
            connection.exec_driver_sql("SET enable_seqscan = off")
            connection.exec_driver_sql("SET enable_indexscan = off")
            return [
                "\n".join(row[0] for row in connection.exec_driver_sql(f"EXPLAIN {statement}", parameters))
                for statement, parameters in seen
                if "FROM contracts" in statement
            ]

        return await store.read(explain), found
    finally:
        await store.db.dispose()
