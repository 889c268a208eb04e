"""The console with two projects (Pilot): each pane (alerts too) shows a Project column and filters by
project, ``P`` cycling all → each project → all; with one project nothing of it shows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kassa24_console import importer
from kassa24_console.console.alerts import AlertsPane
from kassa24_console.console.app import Kassa24App
from kassa24_console.console.mismatches import MismatchesPane
from kassa24_console.console.panes import ContractsPane
from kassa24_console.console.traffic import TrafficPane
from kassa24_console.store import Store, now_us
from kassa24_console.store import alerts as store_alerts
from kassa24_console.store import queries as q
from tests.support.console import make_settings, until

PRODUCTION, TEST = 4242, 4343
PROJECTS = [
    {"project_id": PRODUCTION, "name": "production", "secret_key": "production-key-0123456789"},
    {"project_id": TEST, "name": "test", "test": True, "secret_key": "test-project-key-0123456789"},
]


def _contract(customer: str, contract: str) -> dict[str, Any]:
    return {
        "id": contract,
        "customer_id": customer,
        "number": f"N-{contract}",
        "payment": 100,
        "min_payment": None,
        "status_code": 0,
        "status_text": "",
        "info": None,
    }


async def _seed(url: str) -> None:
    store = Store(url, project_id=PRODUCTION)
    await store.open()
    try:
        for project, contracts in ((PRODUCTION, ["C-1", "C-2"]), (TEST, ["C-1"])):
            account = {"customer_id": "7100000001", "additional_customer_id": None, "currency": "KZT", "name": ""}
            rows = [_contract("7100000001", c) for c in contracts]
            batch = importer.Batch([account], rows, ["seed.json"])
            await importer.apply(store, batch, actor="test", project_id=project)

        def flags(connection: Any) -> None:
            for project, payment in ((PRODUCTION, "k24_prod"), (TEST, "k24_test")):
                q.flag(
                    connection,
                    key=f"callback_overdue:{payment}",
                    kind="callback_overdue",
                    payment_id=payment,
                    evidence={"deposit": {"payment_id": payment}},
                    action="",
                    at=now_us(),
                    project_id=project,
                )

        await store.write(flags)
    finally:
        await store.close()


def _column(pane: ContractsPane | MismatchesPane | AlertsPane, index: int) -> list[str]:
    table = pane.table
    return [str(table.get_row_at(i)[index]) for i in range(table.row_count)]


async def test_each_pane_filters_by_project_and_shows_its_column(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, projects=PROJECTS)
    await _seed(settings.database_url)
    app = Kassa24App(settings, attach=True)
    async with app.run_test(size=(120, 40)) as pilot:
        traffic = app.query_one(TrafficPane)
        assert str(app.query_one("#traffic-header").render()).split()[0] == "Project"
        assert "P project: all" in str(app.query_one("#traffic-state").render())
        await pilot.press("P")
        await until(pilot, lambda: traffic.filter.project == PRODUCTION)
        assert "P project: production (4242)" in str(app.query_one("#traffic-state").render())

        await pilot.press("c")
        contracts = app.query_one(ContractsPane)
        where = app.query_one("#contracts-where")
        await until(pilot, lambda: contracts.table.row_count == 3)
        assert next(str(c.label) for c in contracts.table.columns.values()) == "Project"
        assert sorted(_column(contracts, 0)) == ["4242", "4242", "4343"]
        assert "P project: all" in str(where.render())
        contracts.table.focus()
        await pilot.press("P")
        await until(pilot, lambda: contracts.table.row_count == 2)
        assert _column(contracts, 0) == ["4242", "4242"] and "production (4242)" in str(where.render())
        await pilot.press("P")
        await until(pilot, lambda: contracts.table.row_count == 1)
        assert _column(contracts, 0) == ["4343"] and "test (4343)" in str(where.render())
        await pilot.press("P")
        await until(pilot, lambda: contracts.table.row_count == 3)  # all again
        assert "P project: all" in str(where.render())

        await pilot.press("m")
        mismatches = app.query_one(MismatchesPane)
        await until(pilot, lambda: mismatches.table.row_count == 2)
        mismatches.table.focus()
        await pilot.press("P", "P")  # the test project's only
        await until(pilot, lambda: mismatches.table.row_count == 1)
        assert _column(mismatches, 0) == ["4343"]
        assert "k24_test" in _column(mismatches, 3)


async def test_one_project_shows_no_project_column_nor_filter(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    app = Kassa24App(settings, attach=True)
    async with app.run_test(size=(120, 40)) as pilot:
        assert str(app.query_one("#traffic-header").render()).split()[0] == "Time"
        assert "project" not in str(app.query_one("#traffic-state").render())
        await pilot.press("c")
        contracts = app.query_one(ContractsPane)
        assert "project" not in [c.key.value for c in contracts.table.columns.values()]
        await pilot.press("P")  # no such key with one project: nothing changes
        assert contracts.project is None and app.query_one(TrafficPane).project is None


async def _pending_deposits(url: str) -> None:
    """One deposit in each project, 90 s old and never called back: overdue (60 s) for both."""
    store = Store(url, project_id=PRODUCTION)
    await store.open()
    at = now_us() - 90_000_000

    def insert(connection: Any) -> None:
        for project, payment in ((PRODUCTION, "k24_prod_due"), (TEST, "k24_test_due")):
            values = {
                "payment_id": payment,
                "project_id": project,
                "customer_id": "7100000001",
                "contract_id": "C-1",
                "number": "N-C-1",
                "amount": 150_000,
                "currency": "KZT",
                "state": "pending",
                "paid_amount": None,
                "created_at": at,
                "updated_at": at,
            }
            q.insert_deposit(connection, values)

    try:
        await store.write(insert)
    finally:
        await store.close()


async def _overdue(app: Kassa24App) -> list[tuple[int, str]]:
    assert app.store is not None
    rows = await app.store.scan(
        lambda c: c.exec_driver_sql(
            "SELECT project_id, payment_id FROM mismatches WHERE payment_id LIKE '%_due' ORDER BY project_id"
        ).all()
    )
    return [tuple(row) for row in rows]


async def test_r_reconciles_the_project_the_filter_shows_or_every_project(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, projects=PROJECTS)
    await _seed(settings.database_url)
    await _pending_deposits(settings.database_url)
    app = Kassa24App(settings, attach=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("m")
        pane = app.query_one(MismatchesPane)
        await until(pilot, lambda: pane.table.row_count == 2)  # the two seeded flags
        pane.table.focus()
        await pilot.press("P", "P")  # the test project only
        await until(pilot, lambda: pane.project == TEST)
        await pilot.press("r")
        await until(pilot, lambda: any("Reconciled" in n.message for n in app._notifications), timeout=60)
        assert await _overdue(app) == [(TEST, "k24_test_due")]  # production untouched
        await pilot.press("P")  # all projects
        await until(pilot, lambda: pane.project is None)
        app.clear_notifications()
        await pilot.press("r")
        await until(pilot, lambda: sum("Reconciled" in n.message for n in app._notifications) == 2, timeout=60)
        said = sorted(n.message for n in app._notifications)
        assert said[0].startswith("production (4242): Reconciled") and said[1].startswith("test (4343): Reconciled")
        assert await _overdue(app) == [(PRODUCTION, "k24_prod_due"), (TEST, "k24_test_due")]
        await until(pilot, lambda: pane.table.row_count == 4)


async def _alerts(url: str) -> None:
    """An alert of each project (its previous key still in use) and one about the whole install."""
    store = Store(url, project_id=PRODUCTION)
    await store.open()
    at = now_us()

    def start(connection: Any) -> None:
        for project in (PRODUCTION, TEST):
            key = f"key_expiring:{project}"
            store_alerts.start_alert(connection, key, "key_expiring", f"key of {project}", "", at, project)
        store_alerts.start_alert(connection, "errors", "errors", "Requests are failing", "", at)

    try:
        await store.write(start)
    finally:
        await store.close()


async def test_the_alerts_pane_filters_by_project(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, projects=PROJECTS)
    await _seed(settings.database_url)
    await _alerts(settings.database_url)
    app = Kassa24App(settings, attach=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("exclamation_mark")
        pane = app.query_one(AlertsPane)
        await until(pilot, lambda: pane.table.row_count == 3)
        assert next(str(c.label) for c in pane.table.columns.values()) == "Project"
        assert sorted(_column(pane, 0)) == ["", "4242", "4343"]  # the install's alert has no project
        where = app.query_one("#alerts-where")
        assert "P project: all" in str(where.render())
        pane.table.focus()
        await pilot.press("P")  # production: its alert and the install's, not the test project's
        await until(pilot, lambda: pane.table.row_count == 2)
        assert sorted(_column(pane, 0)) == ["", "4242"] and "production (4242)" in str(where.render())
        await pilot.press("P")
        await until(pilot, lambda: sorted(_column(pane, 0)) == ["", "4343"])
        await pilot.press("P")
        await until(pilot, lambda: pane.table.row_count == 3)
