"""Reconciliation an accountant can sign: real records made through the listener, report
files in the encodings desks use, a fake Data API over HTTP, the CLI as an accountant runs it."""

from __future__ import annotations

import asyncio
import json
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from kassa24_console.config import Settings
from kassa24_console.reconcile.data_api import DataApiError
from kassa24_console.reconcile.report import ReportError, read_csv
from tests.support.bodies import callback_body, verify_body
from tests.support.cli import run_cli
from tests.support.endpoint import Endpoint
from tests.support.inprocess import AppServer, start_app
from tests.support.reconciling import (
    ZONE,
    FakeDataApi,
    api_item,
    data_api,
    pay,
    report_line,
    run,
    serve_asgi,
    today,
    write_report,
)
from tests.support.seeding import new_customer


@pytest.fixture
def merchant(tmp_path: Path):
    """serve's app over a real SQLite file (the process is not what these tests are about)."""
    server = start_app(tmp_path)
    yield server
    server.stop()


def cli(server: Endpoint, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_cli("reconcile", *args, env={**server.env, "KASSA24_LOG_FILE": "/dev/null", **env})


def day() -> str:
    return datetime.now(ZONE).date().isoformat()


def test_no_platform_record_refuses_sign_off_and_an_empty_one_finds_our_paid_deposits(
    merchant: AppServer, tmp_path: Path
) -> None:
    customer, (contract,) = new_customer(merchant, {"payment": 10_000_000})
    paid = [pay(merchant, customer, contract, 100_000, operation_id=i) for i in range(3)]
    refused = cli(merchant, "--from", day(), "--sign-off")
    assert refused.returncode == 1 and f"no platform record for {day()}" in refused.stderr
    empty = write_report(tmp_path / "empty.csv", [])  # a header-only export for a day with payments
    doubted = cli(merchant, "--report", str(empty), "--from", day(), "--format", "json")
    assert doubted.returncode == 2 and "no operations for" in doubted.stderr and "--accept-empty" in doubted.stderr
    result = cli(merchant, "--report", str(empty), "--from", day(), "--format", "json", "--accept-empty")
    summary = json.loads(result.stdout)
    assert result.returncode == 1
    assert sorted(o["payment_id"] for o in summary["open"] if o["kind"] == "missing_in_report") == sorted(paid)
    assert summary["sides"]["ours"]["paid"] == {"count": 3, "sum": 300_000}
    assert summary["sides"]["platform"] == {} and summary["sides"]["difference"] == 300_000
    assert cli(merchant, "--from", day(), "--sign-off").returncode == 1  # three open: not all clear
    without_days = cli(merchant, "--report", str(empty))
    assert without_days.returncode == 2 and "say which days it covers with --from" in without_days.stderr


def test_money_the_platform_collected_blocks_the_next_morning_sign_off(merchant: AppServer, tmp_path: Path) -> None:
    """A report-only operation of the day, found the next morning, still blocks that day."""
    import sqlite3

    report = write_report(tmp_path / "r.csv", [report_line("77", "k24_not_ours", "50.00")])
    assert cli(merchant, "--report", str(report), "--format", "json").returncode == 1
    with sqlite3.connect(merchant.db_path) as db:  # found "the next morning"
        db.execute("UPDATE mismatches SET found_at = found_at + 86400000000")
    refused = cli(merchant, "--from", day(), "--sign-off")
    assert refused.returncode == 1 and "report_unknown_payment k24_not_ours" in refused.stderr


def test_a_signed_period_is_shown_and_reopened_by_a_late_callback(merchant: AppServer, tmp_path: Path) -> None:
    customer, (contract,) = new_customer(merchant, {"payment": 10_000_000})
    waiting = pay(merchant, customer, contract, 100_000, status=None)
    report = write_report(tmp_path / "r.csv", [])
    first = cli(merchant, "--report", str(report), "--from", day(), "--format", "json")
    assert first.returncode == 0, first.stdout  # a pending deposit seconds old is nothing yet
    signed = cli(merchant, "--from", day(), "--sign-off")
    assert signed.returncode == 0 and "signed off" in signed.stdout, signed.stderr
    shown = json.loads(cli(merchant, "--from", day(), "--format", "json").stdout)["signed"]
    assert len(shown) == 1 and "signed off from" in shown[0] and "reopened" not in shown[0]
    assert merchant.post(callback_body(waiting), path="/kassa24/callback").status_code == 200
    reopened = json.loads(cli(merchant, "--from", day(), "--format", "json").stdout)["signed"]
    assert "reopened after sign-off" in reopened[0] and waiting in reopened[0]


def test_a_resolved_overdue_deposit_stays_resolved(merchant: AppServer) -> None:
    customer, (contract,) = new_customer(merchant, {"payment": 10_000_000})
    waiting = pay(merchant, customer, contract, 100_000, status=None)
    created = merchant.rows("SELECT created_at FROM deposits WHERE payment_id = ?", waiting)[0]["created_at"]
    asyncio.run(run(merchant, now=created + 5 * 60_000_000))
    mismatch = merchant.rows("SELECT id FROM mismatches WHERE payment_id = ?", waiting)[0]["id"]
    assert cli(merchant, "--resolve", str(mismatch), "--note", "customer says it failed").returncode == 0
    for minutes in (6, 60, 600):  # later runs, older deposit: the facts did not change
        asyncio.run(run(merchant, now=created + minutes * 60_000_000))
        assert merchant.rows("SELECT state FROM mismatches WHERE id = ?", mismatch)[0]["state"] == "resolved"


def test_both_corrections_are_applied_once_and_audited(merchant: AppServer, tmp_path: Path) -> None:
    customer, (contract,) = new_customer(merchant, {"payment": 1_000_000})
    unpaid = pay(merchant, customer, contract, 100_000, status=None)
    lost = pay(merchant, customer, contract, 200_000, status=None)
    report = write_report(tmp_path / "r.csv", [report_line("88", lost, "2000.00", customer=customer)])
    found = json.loads(cli(merchant, "--report", str(report), "--format", "json").stdout)
    action = next(o["action"] for o in found["open"] if o["payment_id"] == lost)
    assert f"reconcile --credit-deposit {lost} --operation 88" in action
    assert cli(merchant, "--close-deposit", unpaid).returncode == 2  # a note is required
    assert cli(merchant, "--close-deposit", unpaid, "--note", "expired at the terminal").returncode == 0
    credited = cli(merchant, "--credit-deposit", lost, "--operation", "88", "--note", "no callback, ticket 9")
    assert credited.returncode == 0 and "credited 2\xa0000,00\xa0₸" in credited.stdout
    twice = cli(merchant, "--credit-deposit", lost, "--operation", "88", "--note", "again")
    assert twice.returncode == 2 and "is paid, not pending" in twice.stderr
    states = {r["payment_id"]: r["state"] for r in merchant.rows("SELECT payment_id, state FROM deposits")}
    assert (states[unpaid], states[lost]) == ("closed", "paid")
    due = merchant.post(verify_body(customer)).json()["entities"][0]["payment"]
    assert due == 800_000  # credited once: 10 000,00 - 2 000,00
    audit = merchant.rows(
        "SELECT kind, entity, field, new, note, cause FROM audit WHERE kind = 'correction' ORDER BY id"
    )
    assert [(r["entity"], r["field"], r["new"]) for r in audit] == [
        ("deposit", "state", "closed"),
        ("deposit", "state", "paid"),
        ("contract", "payment", "800000"),  # credits are applied at the end of their transaction
    ]
    assert audit[1]["cause"] == "operation 88" and audit[1]["note"] == "no callback, ticket 9"


def test_export_and_the_act_of_a_signed_period(merchant: AppServer, tmp_path: Path) -> None:
    customer, (contract,) = new_customer(merchant, {"payment": 1_000_000})
    paid = pay(merchant, customer, contract, 150_000)
    report = write_report(tmp_path / "r.csv", [report_line("5", paid, "1500.00", customer=customer)])
    book = tmp_path / "ops.xlsx"
    assert cli(merchant, "--report", str(report), "--export", str(book)).returncode == 0
    rows = list(load_workbook(book).active.iter_rows(values_only=True))
    assert rows[0][:4] == ("day", "time", "payment id", "operation id")  # the header first: frozen and filtered
    assert rows[1][2:4] == (paid, "5") and rows[1][6] == 1500 and rows[1][7:9] == ("paid", "success")
    assert cli(merchant, "--from", day(), "--act", str(tmp_path / "act.xlsx")).returncode == 1  # not signed yet
    act = tmp_path / "act.xlsx"
    assert cli(merchant, "--from", day(), "--sign-off", "--act", str(act)).returncode == 0
    sheet = list(load_workbook(act).active.iter_rows(values_only=True))
    assert sheet[0][0] == "Act of reconciliation of mutual settlements" and sheet[1][0].startswith("for the period")
    totals = next(row for row in sheet if row[0] == "Turnover for the period")
    assert totals[1:6] == (1, 1500.0, 1, 1500.0, 0.0)
    assert any(str(row[0]).startswith("Period signed off by") for row in sheet)
    csv_export = tmp_path / "ops.csv"
    csv_export.write_text("an older file, readable by all")
    csv_export.chmod(0o644)
    assert cli(merchant, "--from", day(), "--export", str(csv_export)).returncode == 0
    assert paid in csv_export.read_text(encoding="utf-8-sig")
    # Payment data: every export and the act readable by their owner only.
    assert {oct(p.stat().st_mode & 0o777) for p in (book, act, csv_export)} == {oct(0o600)}


# --- reports as they come from real desks ---------------------------------------------------


def _read(path: Path, **extra: Any) -> list[Any]:
    s = Settings()
    return read_csv(
        path, s.report_columns, unit="major", date_format="%Y-%m-%d %H:%M:%S", timezone="Asia/Almaty", **extra
    )


def test_windows_1251_mapped_statuses_and_a_reversal(tmp_path: Path) -> None:
    line = "{op};p{op};1234;{type};{status};Kassa24;15 000,00;KZT;7012;2026-11-27 09:00:00;2026-11-27 09:00:01"
    lines = [
        line.format(op=1, type="sale", status="Успешно"),
        line.format(op=2, type="sale", status="Отклонено"),
        line.format(op=3, type="refund", status="success"),
    ]
    cp = write_report(tmp_path / "excel.csv", lines, "cp1251")
    statuses = Settings().report_statuses
    operations = _read(cp, statuses=statuses)
    assert [(o.status, o.type) for o in operations] == [("success", "sale"), ("decline", "sale"), ("success", "refund")]
    with pytest.raises(ReportError, match=r"line 2: not UTF-8 text .* report_encoding = \"cp1251\""):
        _read(cp, encoding="utf-8", statuses=statuses)
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + (tmp_path / "excel.csv").read_bytes().decode("cp1251").encode("utf-8"))
    assert len(_read(bom, statuses=statuses)) == 3
    with pytest.raises(ReportError, match="this is UTF-8 text, not cp1251"):
        _read(bom, encoding="cp1251", statuses=statuses)
    unknown = write_report(tmp_path / "unknown.csv", [line.format(op=4, type="sale", status="Пропало")])
    with pytest.raises(ReportError, match=r"line 2: unknown status 'пропало' \(map it with report_statuses"):
        _read(unknown, statuses=statuses)


def test_a_reversal_is_not_a_second_sale_and_the_unit_hint(merchant: AppServer, tmp_path: Path) -> None:
    customer, (contract,) = new_customer(merchant, {"payment": 100_000_000})
    paid = [pay(merchant, customer, contract, 100_000 + i, operation_id=i) for i in range(4)]
    now = datetime.now(ZONE).strftime("%Y-%m-%d %H:%M:%S")
    refund = f"99;{paid[0]};1234;refund;success;Kassa24;1000.00;KZT;{customer};{now};{now}"
    wrong_unit = [report_line(str(10 + i), p, f"{(100_000 + i)}.00", customer=customer) for i, p in enumerate(paid)]
    report = write_report(tmp_path / "r.csv", [*wrong_unit, refund])
    summary = json.loads(cli(merchant, "--report", str(report), "--format", "json").stdout)
    kinds = {o["kind"] for o in summary["open"]}
    assert "duplicate_operation" not in kinds  # the refund is its own operation type
    assert summary["sides"]["platform_reversals"]["count"] == 1
    assert "differ by exactly ×100" in summary["sides"]["unit_hint"]


# --- a Data API that behaves like a real one ------------------------------------------------


class PagingApi(FakeDataApi):
    """Pages by its own size, may ignore the offset, may fail first."""

    def __init__(
        self, operations: list[dict[str, Any]], *, page: int = 500, ignore_offset: bool = False, fail_first: int = 0
    ) -> None:
        super().__init__(operations)
        self.page, self.ignore_offset, self.fail_first = page, ignore_offset, fail_first

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        from kassa24_console.protocol.signature import signed
        from tests.support.common import read_body

        body = json.loads(await read_body(receive))
        self.requests.append(body)
        if self.fail_first > 0:
            self.fail_first -= 1
            status, answer = 503, {"error": "maintenance, try again"}
        else:
            offset = 0 if self.ignore_offset else body["offset"]
            status, answer = 200, signed({"operations": self.operations[offset : offset + self.page]}, "data-api-key")
        start = {"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]}
        await send(start)
        await send({"type": "http.response.body", "body": json.dumps(answer).encode()})


@pytest.mark.parametrize("page", [500, 1000])
async def test_data_api_pages_of_any_size(page: int) -> None:
    fake = PagingApi([api_item(i) for i in range(1354)], page=page)
    listener, url = await serve_asgi(fake)
    try:
        operations = await data_api(url).operations(datetime(2026, 11, 27), datetime(2026, 11, 28))
    finally:
        await listener.stop()
    assert len(operations) == 1354
    assert fake.requests[0]["fields"] and "operation_id" in fake.requests[0]["fields"]


async def test_data_api_ignoring_the_offset_stops_with_a_clear_error() -> None:
    listener, url = await serve_asgi(PagingApi([api_item(i) for i in range(1200)], ignore_offset=True))
    try:
        with pytest.raises(DataApiError, match="same page again at offset 500: it ignores 'offset'"):
            await data_api(url).operations(datetime(2026, 11, 27), datetime(2026, 11, 28))
    finally:
        await listener.stop()


async def test_data_api_5xx_is_retried_and_its_words_are_kept() -> None:
    fake = PagingApi([api_item(i) for i in range(3)], fail_first=2)
    listener, url = await serve_asgi(fake)
    try:
        api = data_api(url)
        api.retry_delays = (0.01, 0.01, 0.01)
        assert len(await api.operations(datetime(2026, 11, 27), datetime(2026, 11, 28))) == 3
        fake.fail_first = 10
        with pytest.raises(DataApiError, match=r"HTTP 503: maintenance, try again \(tried 4 times\)"):
            await api.operations(datetime(2026, 11, 27), datetime(2026, 11, 28))
    finally:
        await listener.stop()


def test_the_demo_reconcile_finds_at_least_four_kinds_and_can_be_signed(tmp_path: Path) -> None:
    """The README's session on a fresh demo database: findings, a resolution, a correction,
    sign-off refused, then accepted."""
    from tests.support.common import ROOT

    env = {
        "PATH": "/usr/bin:/bin",
        "KASSA24_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}",
        "KASSA24_LOG_FILE": str(tmp_path / "log"),
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return run_cli("reconcile", *args, env=env)

    assert run_cli("db", "init", env=env).returncode == 0  # read commands never create one
    first = run("--report", str(ROOT / "data" / "demo" / "platform-report.csv"), "--format", "json")
    found = json.loads(first.stdout)
    assert first.returncode == 1 and len(found["found"]) >= 4, found["found"]
    by_kind = {o["kind"]: o for o in found["open"]}
    assert run("--resolve", str(by_kind["report_unknown_payment"]["id"]), "--note", "not ours").returncode == 0
    pending = by_kind["status_differs"]
    operation = pending["evidence"]["operation_id"]
    assert run("--credit-deposit", pending["payment_id"], "--operation", operation, "--note", "t").returncode == 0
    period = ("--from", "2026-11-23", "--to", "2026-11-27")
    assert run(*period, "--sign-off").returncode == 1
    for item in found["open"]:
        if item["kind"] in ("likely_retry", "callback_overdue") and item["payment_id"] != pending["payment_id"]:
            run("--close-deposit", item["payment_id"], "--note", "never paid")
        else:
            run("--resolve", str(item["id"]), "--note", "checked with the platform")
    accepted = run(*period, "--sign-off")
    assert accepted.returncode == 0, accepted.stderr


async def test_the_console_shows_signed_and_reopened_periods_and_corrects_a_deposit(tmp_path: Path) -> None:
    """A period signed and then reopened by a late callback is in the Mismatches pane, red,
    with the reason; ``k`` closes an unpaid deposit; ``r`` reconciles in a process of its own."""
    from kassa24_console.console.app import Kassa24App
    from kassa24_console.console.mismatches import MismatchesPane
    from kassa24_console.reconcile.engine import sign_off, store_operations
    from kassa24_console.store import Store
    from tests.support.bodies import deposit_body
    from tests.support.console import click_save, make_settings, post, until
    from tests.support.seeding import seed_demo

    settings = make_settings(tmp_path)
    await seed_demo(settings)
    app = Kassa24App(settings)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.listener_state == "listening")
        url = f"http://127.0.0.1:{app.runtime.listener.port}"
        late = (await post(url, deposit_body("7012345678", "C-10001", 150_000))).json()["payment_id"]
        stuck = (await post(url, deposit_body("7012345678", "C-10001", 160_000))).json()["payment_id"]
        store: Store = app.store
        await store_operations(store, [], "csv:empty", today().days)
        await store.write(lambda c: c.exec_driver_sql("UPDATE deposits SET created_at = created_at - 120000000"))
        await pilot.press("m")
        pane = app.query_one(MismatchesPane)
        await pane.action_reconcile()  # both deposits are now overdue
        await until(pilot, lambda: pane.table.row_count == 2, timeout=15)
        pane.table.move_cursor(row=[m.payment_id for m in pane.rows.values()].index(stuck))
        await pilot.press("k")
        await until(pilot, lambda: bool(app.screen.query("#note")))  # the correction form is open
        app.screen.query_one("#note").value = "cancelled at the terminal"
        await click_save(app, pilot)
        await until(pilot, lambda: not hasattr(app.screen, "_fields"))
        await pane.action_reconcile()
        await until(pilot, lambda: pane.table.row_count == 1, timeout=15)
        (overdue,) = pane.rows.values()
        from kassa24_console import edits

        await edits.resolve_mismatch(store, overdue.id, "waiting for the platform")
        await sign_off(store, today())
        await pane.refresh_rows()
        shown = str(app.query_one("#periods").render())
        assert "✓" in shown and "signed by" in shown
        assert (await post(url, callback_body(late), path="/kassa24/callback")).status_code == 200
        await pane.refresh_rows()
        shown = str(app.query_one("#periods").render())
        assert "reopened after sign-off" in shown and late in shown
        await pilot.press("q")
    states = await _states(settings.database_url)
    assert states[stuck] == "closed" and states[late] == "paid"


async def _states(url: str) -> dict[str, str]:
    from kassa24_console.store import Store

    store = Store(url)
    await store.open()
    rows = await store.scan(lambda c: c.exec_driver_sql("SELECT payment_id, state FROM deposits").all())
    await store.close()
    return dict(rows)
