"""The lean write path keeps its promises: statements built once behave as built, a lock
held elsewhere delays only the writes that need it, several listener processes share a
port and credit once, and a log line is made once however many places it goes."""

from __future__ import annotations

import asyncio
import logging
import socket
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.dialects import postgresql

from kassa24_console import logs
from kassa24_console.protocol.signature import signed
from kassa24_console.store import Store, writer
from kassa24_console.store import queries as q
from kassa24_console.store.prepared import Prepared
from tests.support.bodies import callback_body, deposit_body, verify_body
from tests.support.common import SECRET, free_port
from tests.support.inprocess import start_app
from tests.support.seeding import new_customer
from tests.support.serve import Server, serve_env, wait_healthy


def _prepared() -> dict[str, Prepared]:
    found = {f"queries.{k}": v for k, v in vars(q).items() if isinstance(v, Prepared)}
    found.update({f"writer.{k}": v for k, v in vars(writer).items() if isinstance(v, Prepared)})
    return found


@pytest.mark.parametrize("name", sorted(_prepared()))
def test_every_prepared_statement_compiles_for_postgresql_too(name: str) -> None:
    statement = _prepared()[name]
    compiled = statement.postgres.compile(dialect=postgresql.dialect(), column_keys=list(statement.names))
    assert str(compiled).strip()
    assert statement.sqlite_text.count("?") == len(statement.names)


async def test_a_traffic_batch_larger_than_a_statement_is_stored_whole(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'k.db'}", flush_interval=10)
    await store.open()
    row = {"at": 1, "kind": "verify", "http_status": 200, "peer": "p", "request": "{}", "response": "{}"}
    for i in range(1000):  # 1 000 rows of 14 values: 15 statements of at most 999 values
        store.record_traffic({**row, "customer_id": f"c{i}", "latency_us": i})
    await store.write(lambda connection: None)

    def stored(connection: Any) -> list[tuple[str, int]]:
        return [tuple(r) for r in connection.exec_driver_sql("SELECT customer_id, latency_us FROM traffic ORDER BY id")]

    assert await store.scan(stored) == [(f"c{i}", i) for i in range(1000)]
    await store.close()


def test_a_write_lock_held_elsewhere_delays_only_the_writes(tmp_path: Path) -> None:
    """Another connection holds SQLite's write lock: verify is answered meanwhile (the
    loop never waits for the lock), and check_deposit is answered once the lock is free,
    with its deposit stored."""
    server = start_app(tmp_path)
    try:
        customer, contracts = new_customer(server, {"payment": 500_000})
        holder = sqlite3.connect(server.db_path, isolation_level=None, check_same_thread=False)
        holder.execute("BEGIN IMMEDIATE")
        answers: dict[str, Any] = {}

        def deposit() -> None:
            answers["deposit"] = server.post(deposit_body(customer, contracts[0], 10_000))

        thread = threading.Thread(target=deposit)
        thread.start()
        verified = server.post(verify_body(customer))
        assert verified.json()["code"] == 0
        assert thread.is_alive(), "check_deposit was answered while it could not be stored"
        holder.execute("COMMIT")
        thread.join(15)
        payment_id = answers["deposit"].json()["payment_id"]
        assert server.rows("SELECT state FROM deposits WHERE payment_id = ?", payment_id)[0]["state"] == "pending"
    finally:
        server.stop()


def test_several_listeners_share_a_port_and_credit_once(tmp_path: Path) -> None:
    port = free_port()
    db_path = tmp_path / "k24.db"
    env = serve_env(db_path, port, KASSA24_WORKERS="2")
    stderr = open(tmp_path / "serve.stderr", "ab")  # noqa: SIM115
    command = [sys.executable, "-m", "kassa24_console", "serve"]
    proc = subprocess.Popen(command, env=env, stdout=stderr, stderr=stderr)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)
        server = Server(url, db_path, 2, env, proc=proc)
        customer, contracts = new_customer(server, {"payment": 500_000})
        # New connections are spread over the workers; each worker's request ids differ.
        prefixes = set()
        for _ in range(40):
            # A new connection each (spread over the workers), without a new client's TLS setup.
            answer = server.http.post(
                f"{url}/kassa24", json=signed(verify_body(customer), SECRET), headers={"connection": "close"}
            )
            assert answer.json()["code"] == 0
            prefixes.add(answer.headers["x-request-id"].split("-")[0])
        assert len(prefixes) == 2
        payment_id = server.post(deposit_body(customer, contracts[0], 10_000)).json()["payment_id"]
        callback = signed(callback_body(payment_id, amount=10_000), SECRET)

        async def deliver_twice_at_once() -> list[int]:
            async with httpx.AsyncClient() as one, httpx.AsyncClient() as two:
                target = f"{url}/kassa24/callback"
                answers = await asyncio.gather(one.post(target, json=callback), two.post(target, json=callback))
            return [a.status_code for a in answers]

        assert asyncio.run(deliver_twice_at_once()) == [200, 200]
        assert server.post(verify_body(customer)).json()["entities"][0]["payment"] == 490_000
        assert len(server.rows("SELECT id FROM audit WHERE kind = 'payment' AND cause = ?", payment_id)) == 1
        proc.terminate()
        assert proc.wait(20) == 0
        assert db_path.with_suffix(".log").exists() and (tmp_path / "k24.w1.log").exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_several_listeners_on_a_port_in_use_say_so_in_a_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = serve_env(tmp_path / "k24.db", port, KASSA24_WORKERS="2")
        result = subprocess.run(
            [sys.executable, "-m", "kassa24_console", "serve"], env=env, capture_output=True, text=True, timeout=60
        )
    assert result.returncode == 1
    said = f"kassa24-console: cannot listen on 127.0.0.1:{port}: the port is already in use"
    assert result.stderr.strip().splitlines() == [said]


def test_a_log_record_is_formatted_once_for_every_handler(tmp_path: Path) -> None:
    calls = []

    class Counting(logs.JsonFormatter):
        def _format(self, record: logging.LogRecord) -> str:
            calls.append(record)
            return super()._format(record)

    formatter = Counting()
    file_handler = logs.PrivateRotatingFileHandler(tmp_path / "a.log", maxBytes=10_000)
    other = logging.FileHandler(tmp_path / "b.log")
    for handler in (file_handler, other):
        handler.setFormatter(formatter)
    lines = [{"ts": 1_700_000_000.25, "request_id": "x-1", "kind": "verify", "code": 0}]
    record = logging.LogRecord("kassa24_console.requests", logging.INFO, __file__, 1, "requests", None, None)
    record.lines = lines
    for handler in (file_handler, other):
        handler.handle(record)  # the rotating handler's size check formats it too
        handler.close()
    assert len(calls) == 1
    written = (tmp_path / "a.log").read_text()
    assert written == (tmp_path / "b.log").read_text()
    assert '"ts": "2023-11-14T22:13:20.250+00:00"' in written and '"request_id": "x-1"' in written


async def test_a_group_credits_its_contracts_in_one_order(tmp_path: Path) -> None:
    """Credits of one group commit are applied at its end, by contract id, whatever order
    the payments came in: two processes' groups then never lock two contracts in opposite
    orders (the PostgreSQL deadlock of two listeners)."""
    store = Store(f"sqlite:///{tmp_path / 'k.db'}")
    await store.open()

    def seed(connection: Any) -> None:
        connection.exec_driver_sql("INSERT INTO accounts VALUES (1234, '1', NULL, 'KZT', 'A', 0)")
        for contract in ("A", "B", "C"):
            connection.exec_driver_sql(
                "INSERT INTO contracts (project_id, id, customer_id, number, payment, status_code, status_text,"
                f" updated_at) VALUES (1234, '{contract}', '1', 'n', 1000, 0, '', 0)"
            )

    await store.write(seed)

    def credit(contract: str) -> Any:
        return lambda connection: q.credit_contract(connection, 1234, contract, 100, 1, f"k24_{contract}")

    await asyncio.gather(*(store.write(credit(c), inline=True) for c in ("C", "A", "B")))

    def audited(connection: Any) -> list[tuple[str, str]]:
        rows = connection.exec_driver_sql("SELECT entity_id, new FROM audit WHERE kind = 'payment' ORDER BY id")
        return [tuple(r) for r in rows]

    assert await store.scan(audited) == [("A", "900"), ("B", "900"), ("C", "900")]
    await store.close()
