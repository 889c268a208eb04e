"""The console's lists and searches, and the payment path's reads, answer from indexes:
SQLite's query plan for each walks no table whole and sorts nothing in a temporary tree.
Their cost then follows what they return, not how much the database holds."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine

from kassa24_console.filters import TrafficFilter, parse_filter
from kassa24_console.store import queries as q
from kassa24_console.store import views
from kassa24_console.store.db import create_schema
from tests.support.plans import assert_indexed, plans


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A schema with enough rows for the planner to tell a scan from a lookup."""
    path = tmp_path_factory.mktemp("plans") / "k.db"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        create_schema(connection)
    engine.dispose()
    now = time.time_ns() // 1000
    with sqlite3.connect(path) as db:
        db.executemany(
            "INSERT INTO accounts (project_id, customer_id, currency, name, updated_at) VALUES (1234, ?, 'KZT', ?, 0)",
            [(f"70{i:08d}", f"Name {i}") for i in range(2000)],
        )
        db.executemany(
            "INSERT INTO contracts (project_id, id, customer_id, number, payment, status_code, status_text, updated_at,"
            " version) VALUES (1234, ?, ?, ?, 100, 0, '', 0, 1)",
            [(f"C-{i}", f"70{i:08d}", f"N/{i}") for i in range(2000)],
        )
        db.executemany(
            "INSERT INTO callbacks (received_at, last_received_at, deliveries, signature_ok, payment_id, outcome, raw)"
            " VALUES (?, ?, 1, 1, ?, 'applied', '{}')",
            [(now - i, now - i, f"k24_{i}") for i in range(2000)],
        )
        db.executemany(
            "INSERT INTO traffic (at, kind, http_status, latency_us, peer, request, response)"
            " VALUES (?, 'verify', 200, 1, 'p', '{}', '{}')",
            [(now - 2000 + i,) for i in range(2000)],
        )
        db.execute("ANALYZE")
    return path


LISTS = {
    "contracts page": (views.contracts_page, "", 500, 0),
    "contracts page 3": (views.contracts_page, "", 500, 1000),
    "contracts search count": (views.contracts_count, "C-1"),
    "callbacks page": (views.callbacks_page, TrafficFilter(), 500, 0),
    "callbacks page 2": (views.callbacks_page, TrafficFilter(), 500, 500),
    "open mismatches": (views.mismatches_page, False, 500, "", 0),
    "mismatches count": (views.mismatches_count, False, ""),
    "traffic since a minute": (views.first_traffic_id_since, 0),
    "traffic newest": (views.traffic_after, 0, TrafficFilter(), 300),
    "traffic older": (views.traffic_before, 1500, TrafficFilter(), 300),
    "traffic from": (views.traffic_from, 1000, TrafficFilter(), 300),
    "traffic by kind": (views.traffic_after, 1000, parse_filter("kind:verify"), 300),
    "traffic rates": (views.traffic_counts_after, 1900),
    "traffic last minute": (views.traffic_last_seconds, time.time_ns() // 1000 - 60_000_000),
    "traffic detail": (views.traffic_detail, 5),
}


@pytest.mark.parametrize("name", list(LISTS))
def test_the_consoles_lists_and_searches_walk_no_table_whole(database: Path, name: str) -> None:
    query, *args = LISTS[name]
    assert_indexed(plans(database, query, *args))


SEARCHES = {
    "contracts search": (views.contracts_page, "7000000", 500, 0),
    "contracts search by name": (views.contracts_page, "Name 1", 500, 0),
    "contracts search by a payment id": (views.contracts_page, "k24_1", 500, 0),
}


@pytest.mark.parametrize("name", list(SEARCHES))
def test_a_contract_search_looks_up_what_it_finds(database: Path, name: str) -> None:
    """Each way of matching is an index lookup; only the matches are sorted for the page."""
    query, *args = SEARCHES[name]
    assert_indexed(plans(database, query, *args), sorts=True)


@pytest.mark.parametrize(
    ("query", "args"),
    [
        (q.account_with_contracts, (1234, "7000000005")),
        (q.deposit, ("k24_1",)),
        (q.contract, (1234, "C-5")),
    ],
)
def test_the_payment_paths_reads_are_lookups(database: Path, query: Any, args: tuple[Any, ...]) -> None:
    assert_indexed(plans(database, query, *args), sorts=True)  # the contracts of one account, sorted


def test_the_check_sees_a_full_scan_when_there_is_one(database: Path) -> None:
    """The assertion above can fail: a search on a column with no index is caught."""

    def unindexed(connection: Any) -> None:
        connection.exec_driver_sql("SELECT * FROM traffic WHERE peer = 'p' ORDER BY latency_us").all()

    details = plans(database, unindexed)
    with pytest.raises(AssertionError):
        assert_indexed(details)
