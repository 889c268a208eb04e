"""The same code on PostgreSQL: a server started by the tests, several ``serve`` processes
sharing it, and a callback that two processes see at once credited once."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from kassa24_console import timeline
from kassa24_console.config import Settings
from kassa24_console.protocol.signature import signed
from kassa24_console.reconcile.engine import Period, reconcile
from kassa24_console.runtime import Runtime
from kassa24_console.simulate.catalog import SCENARIOS
from kassa24_console.simulate.platform import Platform
from kassa24_console.simulate.registry import Context, Customers, run_scenarios
from kassa24_console.simulate.seed import seed_accounts
from kassa24_console.store import Store, now_us
from kassa24_console.store import queries as q
from kassa24_console.store.db import create_schema
from tests.support.bodies import callback_body, deposit_body, verify_body
from tests.support.common import JSON, SECRET
from tests.support.console import make_settings
from tests.support.edits import edit_in_another_process
from tests.support.postgres import PgSeed, create_database, pg_scalar, postgres, serve_on  # noqa: F401 - the fixture
from tests.support.seeding import new_customer, seed_demo
from tests.support.serve import Server
from tests.support.waiting import wait_for


def test_scenarios_pass_on_postgresql(postgres: str, tmp_path: Path) -> None:  # noqa: F811
    url = create_database(postgres, "scenarios")
    server = serve_on(tmp_path, url, "a")
    try:

        async def run() -> list:
            seeded = await seed_accounts(url, load_accounts=0)
            platform = Platform(
                url=f"{server.url}/kassa24",
                callback_url=f"{server.url}/kassa24/callback",
                project_id=1234,
                secret=SECRET,
                retry_scale=0.0001,
                max_attempts=3,
            )
            customers = Customers(
                payable=seeded["payable"], nothing_due=seeded["nothing_due"], blocked=seeded["blocked"]
            )
            try:
                return await run_scenarios(Context(platform, customers, 2), list(SCENARIOS))
            finally:
                await platform.close()

        results = asyncio.run(run())
    finally:
        server.stop()
    assert [(r.name, r.failures) for r in results if not r.passed] == []


def test_two_processes_one_database_credit_once(postgres: str, tmp_path: Path) -> None:  # noqa: F811
    url = create_database(postgres, "fleet")
    one, two = serve_on(tmp_path, url, "one"), serve_on(tmp_path, url, "two")
    try:
        # new_customer seeds through the store: point it at PostgreSQL.
        customer, (contract,) = new_customer(PgSeed(url), {"payment": 10_000_000})  # type: ignore[arg-type]
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            issued = list(
                pool.map(lambda i: (one, two)[i % 2].post(deposit_body(customer, contract, 10_000)).json(), range(40))
            )
        payment_ids = [a["payment_id"] for a in issued]
        assert all(a["code"] == 0 for a in issued) and len(set(payment_ids)) == 40

        def deliver(pair: tuple[str, str]) -> int:
            payment_id, base = pair
            return one.http.post(base + "/kassa24/callback", json=_signed_callback(payment_id)).status_code

        # Every callback delivered to both processes at the same moment, twice over.
        pairs = [(p, s.url) for p in payment_ids for s in (one, two, one, two)]
        with concurrent.futures.ThreadPoolExecutor(32) as pool:
            statuses = list(pool.map(deliver, pairs))
        assert set(statuses) == {200}
        due = asyncio.run(pg_scalar(url, "SELECT payment FROM contracts WHERE id = :id", id=contract))
        assert due == 10_000_000 - 40 * 10_000  # each payment credited exactly once
        deliveries = asyncio.run(pg_scalar(url, "SELECT sum(deliveries) FROM callbacks WHERE payment_id LIKE 'k24_%'"))
        assert deliveries == 160
        paid = asyncio.run(pg_scalar(url, "SELECT count(*) FROM deposits WHERE state = 'paid'"))
        assert paid == 40
    finally:
        one.stop()
        two.stop()


def test_reconciliation_on_postgresql(postgres: str) -> None:  # noqa: F811
    url = create_database(postgres, "recon")

    async def run() -> list:
        store = Store(url)
        await store.open()
        try:

            def callback(connection: object) -> None:
                q.record_callback(
                    connection,
                    {
                        "received_at": now_us(),
                        "last_received_at": now_us(),
                        "dedupe_key": "x|1|success",
                        "signature_ok": True,
                        "payment_id": "x",
                        "operation_id": "1",
                        "status": "success",
                        "amount": 5,
                        "outcome": "unknown_payment",
                        "raw": "{}",
                    },
                )

            await store.write(callback)
            zone = ZoneInfo("Asia/Almaty")
            day = datetime.now(zone).date()
            summary = await reconcile(store, Settings(database_url=url), Period.of_days(day, day, zone))
            return [(f.kind, f.payment_id) for f in summary.findings]
        finally:
            await store.close()

    assert asyncio.run(run()) == [("unknown_payment", "x")]


def _signed_callback(payment_id: str) -> dict:
    return signed(callback_body(payment_id, amount=10_000), SECRET)


def test_an_edit_against_a_change_from_another_process_saves_nothing(postgres: str, tmp_path: Path) -> None:  # noqa: F811
    """The compare-and-set of operator edits on PostgreSQL, with the other writer in another
    process; and a payment credited meanwhile is kept under a status-text edit."""
    from kassa24_console import edits

    url = create_database(postgres, "edits")
    server = serve_on(tmp_path, url, "edits")
    try:
        customer, (contract,) = new_customer(PgSeed(url), {"payment": 500_000})  # type: ignore[arg-type]

        async def run() -> None:
            store = Store(url)
            await store.open()
            try:
                seen = await edits.load_contract(store, contract)
                payment_id = server.post(deposit_body(customer, contract, 100_000)).json()["payment_id"]
                assert server.post(callback_body(payment_id), path="/kassa24/callback").status_code == 200
                text_only = edits.ContractChange(0, "called", seen.values.payment, seen.values.min_payment)
                assert await edits.update_contract(store, seen, text_only, actor="op") == 1
                row = await store.read(q.contract, 1234, contract)
                assert (row.payment, row.status_text) == (400_000, "called")  # the payment stayed credited

                seen = await edits.load_contract(store, contract)
                edit_in_another_process(url, contract, "payment", "300000")
                ours = edits.ContractChange(0, "called", 350_000, seen.values.min_payment)
                with pytest.raises(edits.EditConflict, match="colleague") as conflict:
                    await edits.update_contract(store, seen, ours, actor="op")
                assert conflict.value.current.payment == 300_000
                assert (await store.read(q.contract, 1234, contract)).payment == 300_000  # nothing of ours saved
                again = edits.Seen.of(conflict.value.current)
                assert await edits.update_contract(store, again, ours, actor="op") == 1
                assert (await store.read(q.contract, 1234, contract)).payment == 350_000
            finally:
                await store.close()

        asyncio.run(run())
    finally:
        server.stop()


async def test_the_edit_form_on_postgresql_shows_a_change_from_another_process(postgres: str, tmp_path: Path) -> None:  # noqa: F811
    from kassa24_console.console.app import Kassa24App
    from kassa24_console.console.panes import ContractsPane
    from kassa24_console.console.screens import ContractForm
    from tests.support.console import click_save, make_settings, until
    from tests.support.seeding import seed_demo

    url = create_database(postgres, "console_edits")
    settings = make_settings(tmp_path, database_url=url)
    await seed_demo(settings)
    app = Kassa24App(settings, attach=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("c")
        pane = app.query_one(ContractsPane)
        await until(pilot, lambda: pane.table.row_count == 10)
        pane.table.move_cursor(row=0)
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, ContractForm))
        form = app.screen
        await asyncio.to_thread(edit_in_another_process, url, "C-10001", "payment", "4000000")
        form.query_one("#payment").value = "44 000,00"
        await click_save(app, pilot)
        await until(pilot, lambda: "Not saved" in str(form.query_one("#form-error").render()), timeout=10)
        assert form.query_one("#payment").value == "40 000,00"
        assert (await app.store.read(q.contract, 1234, "C-10001")).payment == 4_000_000
        form.query_one("#payment").value = "44 000,00"
        await click_save(app, pilot)
        await until(pilot, lambda: not isinstance(app.screen, ContractForm), timeout=10)
        assert (await app.store.read(q.contract, 1234, "C-10001")).payment == 4_400_000
        await pilot.press("q")


def test_two_hosts_on_postgresql_send_each_alert_once(postgres: str, tmp_path: Path) -> None:  # noqa: F811
    """Two ``serve`` processes on one PostgreSQL database, one webhook: the alert and its
    resolution each arrive once (the unique active key and the conditional update decide)."""
    from tests.support.receivers import HttpReceiver
    from tests.support.waiting import wait_for

    url = create_database(postgres, "alerts")
    hook = HttpReceiver()
    alerting = {
        "KASSA24_ALERT_URLS": hook.url,
        "KASSA24_ALERT_INTERVAL_SECONDS": "0.2",
        "KASSA24_ALERT_SIGNATURE_FAILURES": "3",
        "KASSA24_ALERT_WINDOW_SECONDS": "3",
    }
    first = serve_on(tmp_path, url, "a", **alerting)
    second = serve_on(tmp_path, url, "b", **alerting)
    try:
        for server in (first, second, first):
            forged = signed({"type": "verify", "project_id": 1234, "customer_id": "7000000001"}, "not-the-key")
            assert server.post(forged, sign=False).json()["code"] == 400
        resolved = "kassa24: Resolved: Requests fail the signature"
        wait_for(lambda: resolved in hook.titles(), what="the resolved message")
        assert hook.titles().count("kassa24: Requests fail the signature") == 1
        assert hook.titles().count(resolved) == 1
    finally:
        first.stop()
        second.stop()
        hook.close()


def test_the_console_learns_which_tables_changed_on_postgresql(postgres: str, tmp_path: Path) -> None:  # noqa: F811
    """Migration 0010 on PostgreSQL: statement triggers count writes per table, per writing
    backend (no shared row to wait on); a reader in another process sees only the table
    that was written move."""
    url = create_database(postgres, "changes")
    server = serve_on(tmp_path, url, "changes")

    async def counts() -> dict[str, int]:
        store = Store(url)
        try:
            found = await store.changes()
        finally:
            await store.db.dispose()
        assert found is not None
        return found

    try:
        customer, _ = new_customer(PgSeed(url), {"payment": 10_000})
        before = asyncio.run(counts())
        assert before["contracts"] > 0 and before["accounts"] > 0  # the seeding was counted
        reply = httpx.post(f"{server.url}/kassa24", json=signed(verify_body(customer), SECRET), timeout=10)
        assert reply.json()["code"] == 0
        # the traffic row is flushed within the interval
        after = wait_for(
            lambda: (now := asyncio.run(counts())).get("traffic", 0) > before.get("traffic", 0) and now,
            timeout=15,
            what="the traffic row counted",
        )
        assert after.get("traffic", 0) > before.get("traffic", 0)
        assert {t: after.get(t) for t in ("contracts", "accounts", "mismatches")} == {
            t: before.get(t) for t in ("contracts", "accounts", "mismatches")
        }
    finally:
        server.stop()


def test_the_payment_id_is_carried_and_back_filled_on_postgresql(postgres: str, tmp_path: Path) -> None:  # noqa: F811
    url = create_database(postgres, "carried", migrated=False)  # it migrates to 0010 itself
    settings = make_settings(tmp_path, database_url=url)
    legacy = (
        "INSERT INTO traffic (at, kind, http_status, signature_ok, latency_us, peer, request, response) VALUES "
        "(1, 'check_deposit', 200, true, 0, '', '{}', '{\"code\": 0, \"payment_id\": \"k24_old\"}'), "
        "(1, 'check_deposit', 200, NULL, 0, '', '{}', 'not json'), "
        '(1, \'callback\', 200, true, 0, \'\', \'{"payment": {"id": "k24_cb"}}\', \'{"status": "ok"}\')'
    )

    async def run() -> tuple[list, str, list]:
        store = Store(url)
        await store.db.transaction(lambda c: create_schema(c, "0010"))
        await store.db.transaction(lambda c: c.exec_driver_sql(legacy))
        await store.db.dispose()
        await seed_demo(settings)  # opens the store: migrates to the head
        runtime = Runtime(settings)
        await runtime.open(demo=False)
        assert runtime.store.hot is not None  # the asyncpg hot path stores the deposit
        try:
            transport = httpx.ASGITransport(app=runtime.app, client=("185.0.0.17", 443))
            async with httpx.AsyncClient(transport=transport, base_url="http://merchant") as client:
                body = json.dumps(signed(deposit_body("7012345678", "C-10001", 150_000), SECRET)).encode()
                minted = (await client.post("/kassa24", content=body, headers=JSON)).json()["payment_id"]
        finally:
            await runtime.store.close()
        store = Store(url)
        await store.open()
        try:
            found = await store.scan(
                lambda c: c.exec_driver_sql("SELECT kind, payment_id FROM traffic ORDER BY id").all()
            )
            return [tuple(r) for r in found], minted, await store.scan(timeline.story, minted)
        finally:
            await store.close()

    found, minted, story = asyncio.run(run())
    assert found == [
        ("check_deposit", "k24_old"),
        ("check_deposit", None),
        ("callback", "k24_cb"),
        ("check_deposit", minted),
    ]
    (exchange,) = [e for e in story if e.what == "check_deposit"]
    assert f'"payment_id":"{minted}"' in exchange.detail.replace(" ", "")


def test_two_processes_serve_two_projects_alike_on_postgresql(postgres: str, tmp_path: Path) -> None:  # noqa: F811
    """Two ``serve`` processes on one PostgreSQL with two projects: each answers each project
    with its own customers and key, and a callback delivered to both at once credits once,
    in its project only (issue #20)."""
    from tests.support.projects import KEYS, ONLY_TEST, PRODUCTION, PROJECTS, SHARED, TEST, seed_projects

    url = create_database(postgres, "projects")
    projects = json.dumps(PROJECTS[:2])
    one = serve_on(tmp_path, url, "p1", KASSA24_PROJECTS=projects)
    two = serve_on(tmp_path, url, "p2", KASSA24_PROJECTS=projects)
    try:
        seed_projects(url)
        contract = f"C-{SHARED}"

        def post(server: Server, project: int, body: dict, key: str, path: str = "/kassa24") -> dict:
            answer = server.http.post(server.url + path, json=signed({**body, "project_id": project}, key))
            return answer.json()

        def due(project: int) -> object:
            sql = "SELECT payment FROM contracts WHERE project_id = :project AND id = :id"
            return asyncio.run(pg_scalar(url, sql, project=project, id=contract))

        for server in (one, two):
            production = post(server, PRODUCTION, verify_body(SHARED), KEYS[PRODUCTION])
            test = post(server, TEST, verify_body(SHARED), KEYS[TEST])
            assert [e["payment"] for e in production["entities"]] == [900_000]
            assert [e["payment"] for e in test["entities"]] == [300_000]
            assert post(server, PRODUCTION, verify_body(ONLY_TEST), KEYS[PRODUCTION])["code"] == 404
            assert post(server, TEST, verify_body(ONLY_TEST), KEYS[TEST])["code"] == 0
            assert post(server, TEST, verify_body(SHARED), KEYS[PRODUCTION])["code"] == 400  # each key its project
        issued = post(one, TEST, deposit_body(SHARED, contract, 50_000), KEYS[TEST])
        assert issued["code"] == 0
        callback = signed({**callback_body(issued["payment_id"], amount=50_000), "project_id": TEST}, KEYS[TEST])
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            statuses = list(
                pool.map(
                    lambda base: one.http.post(base + "/kassa24/callback", json=callback).status_code,
                    [one.url, two.url] * 4,
                )
            )
        assert statuses == [200] * 8
        assert due(TEST) == 300_000 - 50_000  # credited once
        assert due(PRODUCTION) == 900_000  # never the other project's
        sql = "SELECT project_id FROM deposits WHERE payment_id = :id AND state = 'paid'"
        assert asyncio.run(pg_scalar(url, sql, id=issued["payment_id"])) == TEST
    finally:
        one.stop()
        two.stop()
