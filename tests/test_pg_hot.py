"""PostgreSQL's payment path on asyncpg: the same answers and stored facts as the full
rules, each payment credited once however often and wherever its callback arrives, and
nothing acknowledged lost to a SIGKILL."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import signal
import threading
from pathlib import Path

from kassa24_console import callbacks
from kassa24_console.protocol.messages import Callback, parse
from kassa24_console.protocol.signature import signed
from kassa24_console.store import Store, now_us
from tests.support.bodies import callback_body, deposit_body, verify_body
from tests.support.common import SECRET
from tests.support.postgres import PgSeed, create_database, pg_scalar, postgres, serve_on  # noqa: F401 - the fixture
from tests.support.seeding import new_customer
from tests.support.streams import stream_payments
from tests.support.waiting import wait_for, wait_until


def _callback(payment_id: str, amount: int, status: str = "success", operation_id: int = 1) -> Callback:
    return parse(Callback, callback_body(payment_id, status=status, amount=amount, operation_id=operation_id))


def _deposit(payment_id: str, customer: str, contract: str, amount: int) -> dict:
    at = now_us()
    return {
        "payment_id": payment_id, "project_id": 1234, "customer_id": customer, "contract_id": contract, "number": None,
        "amount": amount, "currency": "KZT", "state": "pending", "created_at": at, "updated_at": at,
    }  # fmt: skip


def test_the_hot_path_reads_inserts_and_credits_and_leaves_the_rest_to_the_rules(postgres: str) -> None:  # noqa: F811
    url = create_database(postgres, "hot")
    customer, (contract,) = new_customer(PgSeed(url), {"payment": 50_000, "info": {"k": "v"}})  # type: ignore[arg-type]

    async def run() -> None:
        store = Store(url)
        await store.open()
        try:
            assert store.hot is not None
            account, contracts = await store.account(1234, customer)
            assert account.customer_id == customer and [c.id for c in contracts] == [contract]
            assert contracts[0].info == {"k": "v"} and contracts[0].payment == 50_000
            assert await store.account(1234, "nobody") == (None, [])
            await store.insert_deposit(_deposit("k24_hot_1", customer, contract, 20_000))
            await store.insert_deposit(_deposit("k24_hot_2", customer, contract, 20_000))
            hot = lambda cb: store.write_hot(lambda tx: callbacks.apply_hot(tx, cb, "{}"))  # noqa: E731
            assert await hot(_callback("k24_hot_1", 20_000)) == "applied"
            # A repeat, an amount that disagrees, an unknown payment: the full rules decide.
            assert await hot(_callback("k24_hot_1", 20_000)) is None
            assert await hot(_callback("k24_hot_1", 20_000, operation_id=2)) is None  # another success: not again
            assert await hot(_callback("k24_hot_2", 25_000)) is None
            assert await hot(_callback("k24_nobody", 1_000)) is None
            # More than is due now (30 000 left): what an overpayment does is the full rules' call.
            await store.insert_deposit(_deposit("k24_hot_3", customer, contract, 40_000))
            assert await hot(_callback("k24_hot_3", 40_000)) is None
            assert store.hot.groups >= 3
        finally:
            await store.close()

    asyncio.run(run())
    assert asyncio.run(pg_scalar(url, "SELECT payment FROM contracts WHERE id = :id", id=contract)) == 30_000
    audit = "SELECT old || '>' || new FROM audit WHERE kind = 'payment' AND cause = 'k24_hot_1'"
    assert asyncio.run(pg_scalar(url, audit)) == "50000>30000"
    outcome = "SELECT outcome || ' ' || deposit_id || ' ' || deliveries FROM callbacks WHERE payment_id = 'k24_hot_1'"
    assert asyncio.run(pg_scalar(url, outcome)) == "applied k24_hot_1 1"
    for pending in ("k24_hot_2", "k24_hot_3"):  # nothing of the hot path's attempts kept
        assert asyncio.run(pg_scalar(url, f"SELECT state FROM deposits WHERE payment_id = '{pending}'")) == "pending"
    assert asyncio.run(pg_scalar(url, "SELECT count(*) FROM callbacks WHERE payment_id = 'k24_hot_3'")) == 0


def test_duplicate_callbacks_at_two_processes_at_once_credit_once(postgres: str, tmp_path: Path) -> None:  # noqa: F811
    url = create_database(postgres, "hotfleet")
    one, two = serve_on(tmp_path, url, "one"), serve_on(tmp_path, url, "two")
    try:
        customer, (contract,) = new_customer(PgSeed(url), {"payment": 10_000_000})  # type: ignore[arg-type]
        assert one.post(verify_body(customer)).json()["entities"][0]["payment"] == 10_000_000
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            issued = list(
                pool.map(lambda i: (one, two)[i % 2].post(deposit_body(customer, contract, 10_000)).json(), range(60))
            )
        payment_ids = [a["payment_id"] for a in issued]
        assert all(a["code"] == 0 for a in issued) and len(set(payment_ids)) == 60

        def deliver(pair: tuple[str, str]) -> str:
            payment_id, base = pair
            body = signed(callback_body(payment_id, amount=10_000), SECRET)
            answer = one.http.post(base + "/kassa24/callback", json=body, timeout=30)  # one pool: no TLS setup a call
            assert answer.status_code == 200
            return answer.json()["outcome"]

        pairs = [(p, s.url) for p in payment_ids for s in (one, two, two, one)]
        with concurrent.futures.ThreadPoolExecutor(32) as pool:
            outcomes = list(pool.map(deliver, pairs))
        assert sorted(set(outcomes)) == ["applied", "duplicate"] and outcomes.count("applied") == 60
        due = asyncio.run(pg_scalar(url, "SELECT payment FROM contracts WHERE id = :id", id=contract))
        assert due == 10_000_000 - 60 * 10_000
        credits = "SELECT count(DISTINCT cause) || '/' || count(*) FROM audit WHERE kind = 'payment'"
        assert asyncio.run(pg_scalar(url, credits)) == "60/60"  # one audited credit per payment
        assert asyncio.run(pg_scalar(url, "SELECT sum(deliveries) FROM callbacks")) == 240
        assert one.post(verify_body(customer)).json()["entities"][0]["payment"] == due
    finally:
        one.stop()
        two.stop()


def test_sigkill_on_postgresql_loses_nothing_acknowledged(postgres: str, tmp_path: Path) -> None:  # noqa: F811
    url = create_database(postgres, "hotkill")
    server = serve_on(tmp_path, url, "k0")
    customer, (contract,) = new_customer(PgSeed(url), {"payment": 10**12})  # type: ignore[arg-type]
    issued: list[str] = []
    acknowledged: list[str] = []
    for round_ in range(3):
        stop = threading.Event()
        streams = [
            threading.Thread(target=stream_payments, args=(server, customer, contract, issued, acknowledged, stop))
            for _ in range(4)
        ]
        for thread in streams:
            thread.start()
        wanted = 10 * (round_ + 1)
        wait_for(lambda wanted=wanted: len(acknowledged) >= wanted, timeout=30, what="payments acknowledged")
        os.kill(server.proc.pid, signal.SIGKILL)
        server.proc.wait()
        stop.set()
        for thread in streams:
            thread.join(10)
        server = serve_on(tmp_path, url, f"k{round_ + 1}")
    try:
        assert len(issued) > 20 and len(acknowledged) >= 30
        states = asyncio.run(_states(url))
        assert set(issued) <= set(states)  # every payment id answered was stored
        assert all(states[p] == "paid" for p in acknowledged)  # every callback answered 200 was applied
        paid = sum(1 for state in states.values() if state == "paid")
        due = asyncio.run(pg_scalar(url, "SELECT payment FROM contracts WHERE id = :id", id=contract))
        assert due == 10**12 - 100 * paid  # every credit whole, none half-applied
        credits = asyncio.run(pg_scalar(url, "SELECT count(*) FROM audit WHERE kind = 'payment'"))
        assert credits == paid
    finally:
        server.stop()


async def _states(url: str) -> dict[str, str]:
    store = Store(url)
    try:
        from sqlalchemy import text

        rows = await store.db.read(lambda c: c.execute(text("SELECT payment_id, state FROM deposits")).all())
        return dict(rows)
    finally:
        await store.db.dispose()


def test_traffic_on_postgresql_is_appended_by_copy_and_a_refused_batch_still_lands(postgres: str) -> None:  # noqa: F811
    url = create_database(postgres, "traffic_copy")

    def row(n: int, request: str = "{}") -> dict:
        return {"at": now_us(), "kind": "verify", "http_status": 200, "request": request, "response": "{}",
                "peer": f"peer-{n}", "latency_us": n, "signature_ok": True, "code": 0}  # fmt: skip

    async def run() -> tuple[int, int]:
        store = Store(url)
        await store.open()
        copies: list[tuple[int, bool]] = []  # each COPY tried: its rows, whether it worked
        assert store.hot is not None and store.writer.append_traffic is not None
        append = store.writer.append_traffic

        async def counted(rows: list[dict]) -> bool:
            try:
                appended = await append(rows)
            except Exception:
                appended = False
                raise
            finally:
                copies.append((len(rows), appended))
            return appended

        store.writer.append_traffic = counted
        try:
            for n in range(50):
                store.record_traffic(row(n))
            await wait_until(lambda: sum(n for n, _ in copies) >= 50)
            assert all(ok for _, ok in copies)
            # A NUL byte PostgreSQL's text refuses: the COPY fails, the rows take the usual
            # way (made storable there), none lost.
            store.record_traffic(row(50, "bad\x00byte"))
            store.record_traffic(row(51))
            await wait_until(lambda: sum(n for n, _ in copies) >= 52)
            await wait_until(lambda: not store.writer._traffic)
        finally:
            await store.close()
        return copies, store.writer.dropped_traffic

    copies, dropped = asyncio.run(run())
    assert (2, False) in copies or (1, False) in copies, copies
    assert dropped == 0
    assert asyncio.run(pg_scalar(url, "SELECT count(*) FROM traffic WHERE peer LIKE 'peer-%'")) == 52
    assert asyncio.run(pg_scalar(url, "SELECT count(*) FROM traffic WHERE peer = 'peer-50'")) == 1


def test_a_group_of_new_deposits_lands_whole_and_one_that_fails_sinks_only_itself(postgres: str) -> None:  # noqa: F811
    url = create_database(postgres, "deposit_group")
    customer, (contract,) = new_customer(PgSeed(url), {"payment": 50_000})  # type: ignore[arg-type]

    changes = "SELECT coalesce(sum(n), 0) FROM table_changes WHERE name = 'deposits'"

    async def insert(store: Store, ids: list[str]) -> list[BaseException | None]:
        deposits = (store.insert_deposit(_deposit(i, customer, contract, 1_000)) for i in ids)
        return await asyncio.gather(*deposits, return_exceptions=True)

    async def run() -> tuple[int, list[BaseException | None]]:
        store = Store(url)
        await store.open()
        try:
            before = await pg_scalar(url, changes)
            assert await insert(store, [f"k24_group_{n}" for n in range(12)]) == [None] * 12
            statements = await pg_scalar(url, changes) - before  # one trigger a statement
            # One id already stored: its group fails, each of its deposits runs alone.
            return statements, await insert(store, [f"k24_group_{n}" for n in range(12, 20)] + ["k24_group_0"])
        finally:
            await store.close()

    statements, results = asyncio.run(run())
    assert statements < 12  # the group's deposits went as few statements
    assert results[:8] == [None] * 8 and isinstance(results[8], Exception)
    assert asyncio.run(pg_scalar(url, "SELECT count(*) FROM deposits WHERE payment_id LIKE 'k24_group_%'")) == 20
