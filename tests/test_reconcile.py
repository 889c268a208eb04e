"""Reconciliation from real records: deposits and callbacks through the listener, a report
file, and a fake Data API served over HTTP."""

from __future__ import annotations

import asyncio
import json
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from kassa24_console.config import Settings
from kassa24_console.findings import DAY_US
from kassa24_console.reconcile.data_api import DataApiError
from kassa24_console.reconcile.engine import Period, SignOffRefused, reconcile, sign_off, store_operations
from kassa24_console.reconcile.report import ReportError, read_csv
from kassa24_console.store import Store, now_us
from tests.support.bodies import callback_body
from tests.support.cli import run_cli, run_cli_async
from tests.support.common import SECRET
from tests.support.endpoint import Endpoint
from tests.support.inprocess import AppServer, start_app
from tests.support.reconciling import (
    COLUMNS,
    HEADER,
    TOKEN_KEY,
    ZONE,
    FakeDataApi,
    api_item,
    data_api,
    pay,
    report_line,
    run,
    serve_asgi,
    today,
)
from tests.support.seeding import new_customer


@pytest.fixture
def server2(tmp_path: Path):  # a fresh merchant per test: a report covers a whole day of one database
    server = start_app(tmp_path)  # serve's app in-process: the process is not what is tested here
    yield server
    server.stop()


def of(findings: list[Any], payment_id: str) -> list[tuple[str, dict]]:
    return [(f.kind, f.evidence) for f in findings if f.payment_id == payment_id]


def test_agreeing_records_give_nothing(server2: AppServer, tmp_path: Path) -> None:
    customer, (contract,) = new_customer(server2, {"payment": 1_000_000})
    paid = pay(server2, customer, contract, 150_000)
    findings = asyncio.run(run(server2, report=[report_line("9001", paid, "1500.00", customer=customer)], tmp=tmp_path))
    assert of(findings, paid) == []


def test_callback_for_unknown_payment_is_one_record_with_the_live_flag(server2: AppServer) -> None:
    server2.post(callback_body("k24_nobody", amount=5000), path="/kassa24/callback")
    findings = asyncio.run(run(server2))
    assert of(findings, "k24_nobody") == [
        ("unknown_payment", {"callback": {"payment_id": "k24_nobody", "status": "success", "amount": 5000}})
    ]
    rows = server2.rows("SELECT count(*) AS n FROM mismatches WHERE payment_id = 'k24_nobody'")
    assert rows[0]["n"] == 1  # the service flagged it live; reconciliation found the same record


def test_amount_and_currency_mismatches(server2: AppServer, tmp_path: Path) -> None:
    customer, (contract,) = new_customer(server2, {"payment": 10_000_000})
    short = pay(server2, customer, contract, 200_000, callback_amount=150_000)
    dollars = pay(server2, customer, contract, 200_000, status=None)
    server2.post(callback_body(dollars, amount=200_000, currency="USD"), path="/kassa24/callback")
    by_report = pay(server2, customer, contract, 300_000)
    findings = asyncio.run(
        run(
            server2,
            report=[
                report_line("9101", by_report, "2999.99", customer=customer),
                report_line("9102", short, "1500.00", customer=customer),
            ],
            tmp=tmp_path,
        )
    )
    deposit = {"amount": 200_000, "currency": "KZT"}
    assert ("amount_mismatch", {"deposit": deposit, "callback": {"amount": 150_000, "currency": "KZT"}}) in of(
        findings, short
    )
    assert of(findings, dollars)[0] == (
        "currency_mismatch",
        {"deposit": deposit, "callback": {"amount": 200_000, "currency": "USD"}},
    )
    assert of(findings, by_report) == [
        (
            "amount_mismatch",
            {"deposit": {"amount": 300_000, "currency": "KZT"}, "report": {"amount": 299_999, "currency": "KZT"}},
        )
    ]


def test_customer_status_and_presence_in_the_report(server2: AppServer, tmp_path: Path) -> None:
    customer, (contract,) = new_customer(server2, {"payment": 10_000_000})
    other_customer = pay(server2, customer, contract, 100_000)
    declined_there = pay(server2, customer, contract, 100_000)
    not_there = pay(server2, customer, contract, 100_000)
    report = [
        report_line("9201", other_customer, "1000.00", customer="someone-else"),
        report_line("9202", declined_there, "1000.00", status="decline", customer=customer),
        report_line("9203", "k24_not_ours", "55.00"),
    ]
    findings = asyncio.run(run(server2, report=report, tmp=tmp_path))
    assert of(findings, other_customer) == [("customer_mismatch", {"ours": customer, "report": "someone-else"})]
    assert of(findings, declined_there) == [
        ("status_differs", {"ours": "paid", "report": "decline", "operation_id": "9202"})
    ]
    assert of(findings, not_there) == [("missing_in_report", {"deposit": {"amount": 100_000, "currency": "KZT"}})]
    assert of(findings, "k24_not_ours") == [
        (
            "report_unknown_payment",
            {
                "report": {
                    "operation_id": "9203",
                    "payment_id": "k24_not_ours",
                    "status": "success",
                    "amount": 5500,
                    "currency": "KZT",
                }
            },
        )
    ]


def test_conflicts_and_duplicate_operations(server2: AppServer) -> None:
    customer, (contract,) = new_customer(server2, {"payment": 10_000_000})
    conflicted = pay(server2, customer, contract, 100_000)
    server2.post(callback_body(conflicted, "decline", 100_000, operation_id=2), path="/kassa24/callback")
    twice = pay(server2, customer, contract, 100_000)
    server2.post(callback_body(twice, "success", 100_000, operation_id=7), path="/kassa24/callback")
    findings = asyncio.run(run(server2))
    assert of(findings, conflicted) == [
        ("conflicting_status", {"deposit_state": "paid", "callback_statuses": ["decline", "success"]})
    ]
    assert of(findings, twice) == [("duplicate_operation", {"successful_operations": ["1", "7"]})]
    assert len(server2.rows("SELECT id FROM mismatches WHERE payment_id = ?", conflicted)) == 1


def test_no_callback_past_the_basic_time_and_the_threshold(server2: AppServer) -> None:
    customer, (contract,) = new_customer(server2, {"payment": 10_000_000})
    waiting = pay(server2, customer, contract, 100_000, status=None)
    created = server2.rows("SELECT created_at FROM deposits WHERE payment_id = ?", waiting)[0]["created_at"]
    assert of(asyncio.run(run(server2, now=created + 30_000_000)), waiting) == []
    assert of(asyncio.run(run(server2, now=created + 5 * 60_000_000)), waiting) == [
        ("callback_overdue", {"deposit": {"amount": 100_000, "currency": "KZT"}, "state": "pending"})
    ]
    assert of(asyncio.run(run(server2, now=created + 37 * DAY_US)), waiting) == [
        ("deposit_expired", {"deposit": {"amount": 100_000, "currency": "KZT"}, "state": "pending"})
    ]
    # Once the callback arrives, the next run closes it by itself.
    server2.post(callback_body(waiting, "success", 100_000), path="/kassa24/callback")
    assert of(asyncio.run(run(server2)), waiting) == []
    state = server2.rows("SELECT state, resolved_by FROM mismatches WHERE payment_id = ?", waiting)
    assert {(r["state"], r["resolved_by"]) for r in state} == {("resolved", "reconcile")}


def test_monthly_limit_and_likely_retries(server2: AppServer) -> None:
    customer, (contract,) = new_customer(server2, {"payment": 2_000_000_000})
    for _ in range(25):
        pay(server2, customer, contract, 50_000_000)
    findings = asyncio.run(run(server2))
    assert [f for f in findings if f.kind == "monthly_limit" and customer in f.key] == []  # exactly at the limit
    pay(server2, customer, contract, 100)
    month = datetime.now(ZONE).strftime("%Y-%m")
    (over,) = [f for f in asyncio.run(run(server2)) if f.kind == "monthly_limit" and customer in f.key]
    assert over.evidence == {"customer_id": customer, "month": month, "paid": 1_250_000_100, "limit": 1_250_000_000}

    retry_customer, (retry_contract,) = new_customer(server2, {"payment": 10_000_000})
    unpaid = pay(server2, retry_customer, retry_contract, 123_400, status=None)
    paid = pay(server2, retry_customer, retry_contract, 123_400)
    created = server2.rows("SELECT created_at FROM deposits WHERE payment_id = ?", unpaid)[0]["created_at"]
    findings = asyncio.run(run(server2, now=created + 5 * 60_000_000))
    assert of(findings, unpaid) == [
        (
            "likely_retry",
            {"paid": paid, "customer_id": retry_customer, "contract_id": retry_contract, "amount": 123_400},
        )
    ]


# --- report files --------------------------------------------------------------------------


def test_report_mapping_separators_units_and_zones(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text('Op,Pay,State,Sum,Cur,When\n1,p1,SUCCESS,"1 234,50",kzt,2026-11-27 05:00:00\n')
    columns = {
        "operation_id": "Op",
        "payment_id": "Pay",
        "status": "State",
        "amount": "Sum",
        "currency": "Cur",
        "created": "When",
    }
    (op,) = read_csv(path, columns, unit="major", date_format="%Y-%m-%d %H:%M:%S", timezone="Asia/Almaty")
    assert (op.operation_id, op.payment_id, op.status, op.amount, op.currency) == ("1", "p1", "success", 123_450, "KZT")
    assert op.created_at == int(datetime(2026, 11, 27, 0, 0, tzinfo=ZoneInfo("UTC")).timestamp() * 1e6)
    path.write_text("Op;Pay;State;Sum;Cur\n2;p2;decline;123450;KZT\n")
    (minor,) = read_csv(path, columns, unit="minor", date_format="%Y-%m-%d", timezone="UTC")
    assert minor.amount == 123_450


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Op;Pay\n1;p1\n", "line 1: the header lacks the columns for operation_id"),
        (HEADER + "\n" + "1;p1;1234;sale;success;K;12,3,4;KZT;;;\n", "line 2: not an amount"),
        (HEADER + "\n" + "1;p1;1234;sale;success;K;1.001;KZT;;;\n", "line 2: more than 2 decimal places"),
        (HEADER + "\n" + "1;p1;1234;sale;success;K;1.00;KZT;;27/11/2026;\n", "line 2: not a date"),
        (HEADER + "\n" + "1;;1234;sale;success;K;1.00;KZT;;;\n", "line 2: missing payment_id"),
        (
            HEADER + "\n1;p1;1;sale;success;K;1.00;KZT;;;\n1;p2;1;sale;success;K;1.00;KZT;;;\n",
            "line 3: operation 1 repeats line 2",
        ),
    ],
)
def test_malformed_reports_are_refused_with_line_and_reason(tmp_path: Path, text: str, reason: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ReportError, match=reason.replace("(", r"\(")):
        read_csv(path, COLUMNS, unit="major", date_format="%Y-%m-%d %H:%M:%S", timezone="Asia/Almaty")


# --- the CLI, a clean period, working the list, sign-off -----------------------------------


def _cli(server: Endpoint, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("reconcile", *args, env={**server.env, "KASSA24_LOG_FILE": "/dev/null"})


def test_clean_period_then_mismatches_worked_to_sign_off(tmp_path: Path) -> None:
    server = start_app(tmp_path)
    try:
        customer, (contract,) = new_customer(server, {"payment": 1_000_000})
        paid = pay(server, customer, contract, 150_000)
        report = tmp_path / "platform.csv"
        report.write_text("\n".join([HEADER, report_line("1", paid, "1500.00", customer=customer)]) + "\n")
        clean = _cli(server, "--report", str(report), "--format", "json")
        assert clean.returncode == 0, clean.stdout + clean.stderr
        summary = json.loads(clean.stdout)
        assert (summary["found"], summary["open"], summary["no_platform_record"]) == ({}, [], [])
        assert summary["sides"]["matched"] == 1 and summary["sides"]["matching_rate"] == 1.0
        again = _cli(server, "--report", str(report), "--format", "json")
        assert json.loads(again.stdout)["found"] == {}
        assert server.rows("SELECT count(*) AS n FROM platform_operations")[0]["n"] == 1  # no duplicates
        assert server.rows("SELECT count(*) AS n FROM mismatches")[0]["n"] == 0

        report.write_text(report.read_text() + report_line("2", "k24_elsewhere", "10.00") + "\n")
        found = _cli(server, "--report", str(report), "--format", "json")
        assert found.returncode == 1
        (open_one,) = json.loads(found.stdout)["open"]
        assert open_one["kind"] == "report_unknown_payment"
        refused = _cli(server, "--sign-off")
        assert refused.returncode == 1 and "refused: 1 open: #" in refused.stderr and "k24_elsewhere" in refused.stderr
        assert _cli(server, "--resolve", str(open_one["id"])).returncode == 2  # a note is required
        assert _cli(server, "--resolve", str(open_one["id"]), "--note", "test operation").returncode == 0
        signed_off = _cli(server, "--sign-off", "--format", "csv")
        assert signed_off.returncode == 0, signed_off.stderr
        assert server.rows("SELECT signed_by FROM periods")[0]["signed_by"]
        bad = tmp_path / "bad.csv"
        bad.write_text(HEADER + "\n1;x;1;sale;success;K;abc;KZT;;;\n")
        refused_file = _cli(server, "--report", str(bad))
        assert refused_file.returncode == 2 and "line 2" in refused_file.stderr
        assert server.rows("SELECT count(*) AS n FROM platform_operations")[0]["n"] == 2
    finally:
        server.stop()


def test_resolved_mismatch_reopens_when_the_evidence_changes(server2: AppServer, tmp_path: Path) -> None:
    customer, (contract,) = new_customer(server2, {"payment": 1_000_000})
    paid = pay(server2, customer, contract, 100_000)
    asyncio.run(run(server2, report=[report_line("9301", paid, "999.00", customer=customer)], tmp=tmp_path))
    (row,) = server2.rows("SELECT id FROM mismatches WHERE payment_id = ? AND kind = 'amount_mismatch'", paid)

    async def resolve() -> None:
        from kassa24_console.edits import resolve_mismatch

        store = Store(server2.db_url)
        await store.open()
        await resolve_mismatch(store, row["id"], "accepted the difference")
        await store.close()

    asyncio.run(resolve())
    asyncio.run(run(server2, report=[report_line("9301", paid, "999.00", customer=customer)], tmp=tmp_path))
    assert server2.rows("SELECT state FROM mismatches WHERE id = ?", row["id"])[0]["state"] == "resolved"
    asyncio.run(run(server2, report=[report_line("9301", paid, "998.00", customer=customer)], tmp=tmp_path))
    state = server2.rows("SELECT state, note FROM mismatches WHERE id = ?", row["id"])[0]
    assert state["state"] == "open" and "reopened" in state["note"]


# --- the Data API --------------------------------------------------------------------------


async def test_data_api_pages_through_every_operation() -> None:
    fake = FakeDataApi([api_item(i) for i in range(1500)])
    listener, url = await serve_asgi(fake)
    try:
        operations = await data_api(url).operations(datetime(2026, 11, 27), datetime(2026, 11, 28))
    finally:
        await listener.stop()
    assert len(operations) == 1500 and operations[1499].amount == 1599
    assert [r["offset"] for r in fake.requests] == [0, 1000, 1500]  # until an empty page, not a short one
    assert fake.requests[0]["interval"] == {"from": "2026-11-27 00:00:00", "to": "2026-11-28 00:00:00"}
    assert operations[0].created_at == int(datetime(2026, 11, 27, 5, 0, tzinfo=ZoneInfo("UTC")).timestamp() * 1e6)


async def test_data_api_answer_with_a_bad_signature_is_refused() -> None:
    listener, url = await serve_asgi(FakeDataApi([api_item(1)], sign_with="someone-else"))
    try:
        with pytest.raises(DataApiError, match="not signed with the token's key"):
            await data_api(url).operations(datetime(2026, 11, 27), datetime(2026, 11, 28))
    finally:
        await listener.stop()


async def test_data_api_timeout_is_a_clear_error() -> None:
    listener, url = await serve_asgi(FakeDataApi([api_item(1)], delay=2))
    try:
        with pytest.raises(DataApiError, match=r"did not answer within 0\.5 s"):
            api = data_api(url, timeout=0.5)
            api.retry_delays = (0.01, 0.01, 0.01)  # retried as often, without the real back-off's 3.5 s
            await api.operations(datetime(2026, 11, 27), datetime(2026, 11, 28))
    finally:
        await listener.stop()


def test_reconcile_with_the_data_api_from_the_cli(tmp_path: Path) -> None:
    server = start_app(tmp_path)
    try:
        customer, (contract,) = new_customer(server, {"payment": 1_000_000})
        paid = pay(server, customer, contract, 150_000)
        now = datetime.now(ZONE).strftime("%Y-%m-%d %H:%M:%S")
        records = [
            {**api_item(1), "payment_id": paid, "amount": 150_000, "created_date": now},
            {**api_item(2), "payment_id": "k24_other", "created_date": now},
        ]

        async def scenario() -> subprocess.CompletedProcess[str]:
            listener, url = await serve_asgi(FakeDataApi(records))
            try:
                env = {
                    **server.env,
                    "KASSA24_LOG_FILE": "/dev/null",
                    "KASSA24_DATA_API_URL": url,
                    "KASSA24_DATA_API_TOKEN": "T" * 30,
                    "KASSA24_DATA_API_SECRET": TOKEN_KEY,
                }
                return await run_cli_async("reconcile", "--data-api", "--format", "json", env=env)
            finally:
                await listener.stop()

        result = asyncio.run(scenario())
    finally:
        server.stop()
    assert result.returncode == 1, result.stderr
    found = json.loads(result.stdout)
    assert [o["kind"] for o in found["open"]] == ["report_unknown_payment"]
    assert found["open"][0]["payment_id"] == "k24_other"


async def test_sign_off_is_refused_while_open(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'k.db'}")
    await store.open()
    try:
        from kassa24_console.store import queries as q

        def flag(connection: Any) -> None:
            q.flag(
                connection, key="x", kind="report_unknown_payment", payment_id="p", evidence={}, action="", at=now_us()
            )

        await store.write(flag)
        with pytest.raises(SignOffRefused):
            await sign_off(store, today())
    finally:
        await store.close()


async def test_console_lists_and_resolves_what_reconciliation_found(tmp_path: Path) -> None:
    from kassa24_console.console.app import Kassa24App
    from kassa24_console.console.mismatches import MismatchesPane
    from kassa24_console.console.screens import ResolveForm
    from tests.support.common import ROOT
    from tests.support.console import click_save, until

    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'k.db'}", secret_key=SECRET, log_file=tmp_path / "log", port=0
    )
    store = Store(settings.database_url)
    await store.open()
    demo = read_csv(
        ROOT / "data" / "demo" / "platform-report.csv",
        COLUMNS,
        unit="major",
        date_format="%Y-%m-%d %H:%M:%S",
        timezone="Asia/Almaty",
    )
    await store_operations(store, demo, "csv:demo")
    day = datetime(2026, 11, 27).date()
    summary = await reconcile(store, settings, Period.of_days(day, day, ZONE))
    await store.close()
    on_the_day = sum(";2026-11-27 " in line for line in (ROOT / "data" / "demo" / "platform-report.csv").open())
    assert sorted(f.kind for f in summary.findings) == ["report_unknown_payment"] * on_the_day
    app = Kassa24App(settings, attach=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("m")
        pane = app.query_one(MismatchesPane)
        await until(pilot, lambda: pane.table.row_count >= on_the_day)
        assert pane.table.row_count == on_the_day
        pane.table.move_cursor(row=0)
        resolved_id = pane.selected().id
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, ResolveForm))
        app.screen.query_one("#note").value = "demo row, not ours"
        await click_save(app, pilot)
        await until(pilot, lambda: pane.table.row_count == on_the_day - 1)
        await pilot.press("q")
    env = {
        "KASSA24_DATABASE_URL": settings.database_url,
        "KASSA24_SECRET_KEY": SECRET,
        "KASSA24_LOG_FILE": "/dev/null",
        "PATH": "/usr/bin:/bin",
    }
    result = run_cli("reconcile", "--from", "2026-11-27", "--format", "json", env=env)
    assert result.returncode == 1
    still_open = {o["id"] for o in json.loads(result.stdout)["open"]}
    assert len(still_open) == on_the_day - 1 and resolved_id not in still_open


def test_the_months_a_period_touches_end_with_it() -> None:
    """The monthly limit sums each month the period touches from its first day, and never
    past the period's end (a later reconciliation of the month sees the rest)."""
    from datetime import date

    from kassa24_console.reconcile.engine import months_of

    zone = ZoneInfo("Asia/Almaty")
    one = Period.of_days(date(2026, 11, 15), date(2026, 11, 15), zone)
    (month,) = months_of(one, zone)
    assert month.label == "2026-11" and month.end == one.end
    assert month.start == int(datetime(2026, 11, 1, tzinfo=zone).timestamp() * 1e6)
    spanning = Period.of_days(date(2026, 11, 30), date(2026, 12, 1), zone)
    november, december = months_of(spanning, zone)
    assert (november.label, december.label) == ("2026-11", "2026-12")
    assert november.end == december.start == int(datetime(2026, 12, 1, tzinfo=zone).timestamp() * 1e6)
    assert december.end == spanning.end
