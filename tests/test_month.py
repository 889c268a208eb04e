"""A real month as a finance desk reconciles it: operation types in the desk's words, days
that meet at midnight, a stale clock database, arguments that cannot read as all clear."""

from __future__ import annotations

import asyncio
import csv
import getpass
import json
import sqlite3
import subprocess
import sys
from datetime import datetime
from importlib import resources
from pathlib import Path

import pytest
from openpyxl import load_workbook

from kassa24_console import timeline
from kassa24_console.reconcile.data_api import DataApiError
from kassa24_console.store import Store
from tests.support.bodies import callback_body, deposit_body
from tests.support.cli import run_cli, run_cli_async
from tests.support.endpoint import Endpoint
from tests.support.inprocess import AppServer, start_app
from tests.support.reconciling import HEADER, ZONE, FakeDataApi, api_item, data_api, pay, serve_asgi, today
from tests.support.seeding import new_customer


@pytest.fixture
def merchant(tmp_path: Path):
    """serve's app over a real SQLite file (the process is not what these tests are about)."""
    server = start_app(tmp_path)
    yield server
    server.stop()


def cli(server: Endpoint, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_cli("reconcile", *args, env={**server.env, "KASSA24_LOG_FILE": "/dev/null", **env})


def stale_zone_database(tmp_path: Path) -> Path:
    """A system zone database from before 2024: Asia/Almaty fixed at +06."""
    root = tmp_path / "zoneinfo"
    (root / "Asia").mkdir(parents=True)
    with resources.files("tzdata").joinpath("zoneinfo", "Etc", "GMT-6").open("rb") as source:
        (root / "Asia" / "Almaty").write_bytes(source.read())
    return root


def test_zones_come_from_tzdata_even_when_the_system_database_is_stale(tmp_path: Path) -> None:
    script = (
        "from datetime import date, datetime\n"
        "from zoneinfo import ZoneInfo\n"
        "from kassa24_console.zones import zone\n"
        "from kassa24_console.reconcile.engine import Period\n"
        "moment = datetime(2026, 11, 27, 23, 30)\n"
        "print(ZoneInfo('Asia/Almaty').utcoffset(moment))\n"  # what the stale database says
        "print(zone('Asia/Almaty').utcoffset(moment))\n"
        "p = Period.of_days(date(2026, 11, 27), date(2026, 11, 27), zone('Asia/Almaty'))\n"
        "print(datetime.utcfromtimestamp(p.start / 1e6).isoformat())\n"
    )
    env = {"PYTHONTZPATH": str(stale_zone_database(tmp_path)), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    stale, ours, start = result.stdout.split()
    assert stale == "6:00:00"  # the fixture really is stale: plain zoneinfo would have used it
    assert ours == "5:00:00"
    assert start == "2026-11-26T19:00:00"  # midnight in Almaty at +05


@pytest.mark.parametrize("command", ["reconcile", "serve"])
def test_a_misspelled_zone_is_one_line(tmp_path: Path, command: str) -> None:
    result = run_cli(
        command,
        env={
            "PATH": "/usr/bin:/bin",
            "KASSA24_TIMEZONE": "Asia/Almati",
            "KASSA24_DATABASE_URL": f"sqlite:///{tmp_path / 'k.db'}",
            "KASSA24_LOG_FILE": "/dev/null",
        },
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "kassa24-console: invalid configuration: timezone: unknown time zone 'Asia/Almati': "
        "use an IANA name such as Asia/Almaty"
    ]
    assert not (tmp_path / "k.db").exists()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--from", "2026-11-27", "--to", "2026-11-01"], "--to 2026-11-01 is before --from 2026-11-27"),
        (["--from", "2026-11-27", "--export", "out.pdf"], "unknown format '.pdf': name a .xlsx or .csv file"),
        (["--from", "2026-11-27", "--act", "act.pdf"], "the act is written as XLSX"),
    ],
)
def test_arguments_that_would_read_as_all_clear_are_refused(tmp_path: Path, args: list[str], says: str) -> None:
    env = {"PATH": "/usr/bin:/bin", "KASSA24_DATABASE_URL": f"sqlite:///{tmp_path / 'k.db'}"}
    result = run_cli("reconcile", *args, env={**env, "KASSA24_LOG_FILE": "/dev/null"}, cwd=tmp_path)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and says in result.stderr
    assert result.stdout == "" and not (tmp_path / "out.pdf").exists() and not (tmp_path / "k.db").exists()


def write_report(path: Path, lines: list[str], encoding: str = "utf-8") -> Path:
    path.write_bytes(("\n".join([HEADER, *lines]) + "\n").encode(encoding))
    return path


def line(op: str, payment_id: str, kind: str, status: str, amount: str, customer: str, at: str | None = None) -> str:
    at = at or datetime.now(ZONE).strftime("%Y-%m-%d %H:%M:%S")
    return f"{op};{payment_id};1234;{kind};{status};Kassa24;{amount};KZT;{customer};{at};{at}"


def test_russian_types_mapped_an_unknown_type_refused_with_its_line(merchant: AppServer, tmp_path: Path) -> None:
    customer, (contract,) = new_customer(merchant, {"payment": 10_000_000})
    paid = [pay(merchant, customer, contract, 1_000_000 + i, operation_id=i) for i in range(3)]
    lines = [line(str(70 + i), p, "Продажа", "Успешно", f"10 000,0{i}", customer) for i, p in enumerate(paid)]
    refund = line("80", paid[0], "Возврат", "Успешно", "100,00", customer)
    report = write_report(tmp_path / "ru.csv", [*lines, refund], "cp1251")
    summary = json.loads(cli(merchant, "--report", str(report), "--format", "json").stdout)
    assert summary["open"] == []  # three sales matched, not three reversals and three missing
    assert summary["sides"]["matched"] == 3 and summary["sides"]["difference"] == 0
    assert summary["sides"]["platform_reversals"] == {"count": 1, "sum": 10_000}
    unknown = write_report(
        tmp_path / "unknown.csv", [line("90", paid[1], "Продажа", "Успешно", "1,00", customer),
                                   line("91", paid[2], "Покупка в кредит", "Успешно", "1,00", customer)], "cp1251"
    )  # fmt: skip
    before = merchant.rows("SELECT count(*) AS n FROM platform_operations")[0]["n"]
    refused = cli(merchant, "--report", str(unknown), "--format", "json")
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.strip().splitlines() == [
        f"report refused, nothing applied: {unknown}: line 3: unknown operation type 'покупка в кредит' "
        "(map it with report_types in the config)"
    ]
    assert merchant.rows("SELECT count(*) AS n FROM platform_operations")[0]["n"] == before
    mapped = cli(merchant, "--report", str(unknown), "--format", "json",
                 KASSA24_REPORT_TYPES=json.dumps({"Продажа": "sale", "Покупка в кредит": "sale"}))  # fmt: skip
    assert mapped.returncode in (0, 1), mapped.stderr  # mapped by the operator: applied


async def test_the_data_api_types_are_mapped_and_an_unknown_one_refused() -> None:
    items = [{**api_item(1), "operation_type": "Продажа"}, {**api_item(2), "operation_type": "refund"}]
    listener, url = await serve_asgi(FakeDataApi([*items, {**api_item(3), "operation_type": "gift"}]))
    try:
        with pytest.raises(DataApiError, match=r"item 2: unknown operation type 'gift' \(map it with report_types"):
            await data_api(url).operations(datetime(2026, 11, 27), datetime(2026, 11, 28))
    finally:
        await listener.stop()
    listener, url = await serve_asgi(FakeDataApi(items))
    try:
        operations = await data_api(url).operations(datetime(2026, 11, 27), datetime(2026, 11, 28))
    finally:
        await listener.stop()
    assert [o.type for o in operations] == ["sale", "refund"]


def test_an_overpayment_is_kept_as_the_contracts_credit_with_its_finding(merchant: AppServer) -> None:
    customer, (contract,) = new_customer(merchant, {"payment": 100_000})
    first, second = (merchant.post(deposit_body(customer, contract, 100_000)).json()["payment_id"] for _ in range(2))
    for i, payment_id in enumerate((first, second)):
        assert merchant.post(callback_body(payment_id, operation_id=i), path="/kassa24/callback").status_code == 200
    (row,) = merchant.rows("SELECT payment, credit FROM contracts WHERE id = ?", contract)
    assert (row["payment"], row["credit"]) == (0, 100_000)  # the second payment found nothing due: kept
    (found,) = merchant.rows("SELECT kind, payment_id, evidence, state FROM mismatches WHERE kind = 'overpaid'")
    assert (found["payment_id"], found["state"]) == (second, "open")
    assert json.loads(found["evidence"]) == {"contract_id": contract, "due": 0, "paid": 100_000, "credit": 100_000}
    audit = merchant.rows(
        "SELECT field, old, new, cause FROM audit"
        " WHERE entity = 'contract' AND entity_id = ? AND kind = 'payment' ORDER BY id",
        contract,
    )
    assert [tuple(r) for r in audit] == [
        ("payment", "100000", "0", first),
        ("payment", "0", "0", second),
        ("credit", "0", "100000", second),
    ]

    async def story() -> list[str]:
        store = Store(merchant.db_url)
        await store.open()
        try:
            return [f"{e.what}: {e.detail}" for e in await store.scan(timeline.story, second)]
        finally:
            await store.close()

    told = asyncio.run(story())
    assert f"credit balance: contract {contract}: 0,00\xa0₸ → 1\xa0000,00\xa0₸ (payment)" in told
    assert any(line.startswith("mismatch: ") and "overpaid" in line for line in told)


def at_local(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=ZONE).timestamp() * 1e6)


def paid_at(merchant: AppServer, customer: str, contract: str, amount: int, when: str, op: int) -> str:
    """A payment made through the listener, its deposit then dated ``when`` (local time)."""
    payment_id = pay(merchant, customer, contract, amount, operation_id=op)
    with sqlite3.connect(merchant.db_path) as db:
        db.execute("UPDATE deposits SET created_at = ? WHERE payment_id = ?", (at_local(when), payment_id))
    return payment_id


def test_a_payment_across_midnight_is_carried_and_both_days_come_to_zero(merchant: AppServer, tmp_path: Path) -> None:
    customer, (contract,) = new_customer(merchant, {"payment": 100_000_000})
    noon = paid_at(merchant, customer, contract, 500_000, "2026-11-27 12:00:00", 1)
    late = paid_at(merchant, customer, contract, 333_300, "2026-11-27 23:59:53", 2)
    morning = paid_at(merchant, customer, contract, 100_000, "2026-11-28 09:00:00", 3)
    first = write_report(tmp_path / "27.csv", [line("71", noon, "Продажа", "Успешно", "5 000,00", customer,
                                                     "2026-11-27 12:00:02")])  # fmt: skip
    second = write_report(tmp_path / "28.csv", [
        line("72", late, "Продажа", "Успешно", "3 333,00", customer, "2026-11-28 00:00:05"),
        line("73", morning, "Продажа", "Успешно", "1 000,00", customer, "2026-11-28 09:00:01"),
    ])  # fmt: skip
    assert cli(merchant, "--report", str(first), "--from", "2026-11-27").returncode in (0, 1)
    assert cli(merchant, "--report", str(second), "--from", "2026-11-28").returncode == 0
    day27 = cli(merchant, "--from", "2026-11-27", "--sign-off", "--act", str(tmp_path / "act.xlsx"))
    day28 = cli(merchant, "--from", "2026-11-28", "--format", "json")
    assert day27.returncode == 0, day27.stderr
    assert "carried to 2026-11-28: 1 payment, 3\xa0333,00\xa0₸" in day27.stdout
    assert "difference 3\xa0333,00\xa0₸" in day27.stdout and "difference after carried items: 0,00\xa0₸" in day27.stdout
    sides = json.loads(day28.stdout)["sides"]
    assert json.loads(day28.stdout)["open"] == []
    assert sides["difference"] == -333_300 and sides["difference_after_carried"] == 0
    assert sides["carried"] == [{"direction": "from", "day": "2026-11-27", "payment_id": late, "amount": 333_300}]
    act = [row for row in load_workbook(tmp_path / "act.xlsx").active.iter_rows(values_only=True) if any(row)]
    carried = next(i for i, row in enumerate(act) if row[0] == "Carried across midnight")
    assert act[carried + 1][1:5] == (late, 3333, "2026-11-28", "to")
    assert act[carried + 2][:2] == ("Difference after carried items, ₸", 0)


def open_ids(merchant: AppServer, payment_id: str) -> list[int]:
    rows = merchant.rows("SELECT id FROM mismatches WHERE payment_id = ? AND state = 'open'", payment_id)
    return [r["id"] for r in rows]


def test_export_settlements_the_act_and_a_reopen_after_sign_off(merchant: AppServer, tmp_path: Path) -> None:
    customer, (contract,) = new_customer(merchant, {"payment": 100_000_000})
    matched = pay(merchant, customer, contract, 111_100, operation_id=1)
    short = pay(merchant, customer, contract, 200_000, operation_id=2)
    uncalled = pay(merchant, customer, contract, 300_000, status=None)
    declined = pay(merchant, customer, contract, 400_000, status=None)
    report = write_report(tmp_path / "day.csv", [
        line("81", matched, "Продажа", "Успешно", "1 111,00", customer),
        line("82", short, "Продажа", "Успешно", "1 500,00", customer),
        line("83", uncalled, "Продажа", "Успешно", "3 000,00", customer),
        line("84", declined, "Продажа", "Отклонено", "4 000,00", customer),
    ])  # fmt: skip
    day = datetime.now(ZONE).date().isoformat()
    assert cli(merchant, "--report", str(report)).returncode == 1
    (mismatch,) = open_ids(merchant, short)
    assert cli(merchant, "--resolve", str(mismatch), "--note", "refunded 500,00 by bank transfer").returncode == 0
    note = "paid per the platform's record, ticket 4412"
    credited = cli(merchant, "--credit-deposit", uncalled, "--operation", "83", "--note", note)
    assert credited.returncode == 0, credited.stderr
    assert cli(merchant, "--close-deposit", declined, "--note", "declined at the terminal").returncode == 0
    signed = cli(merchant, "--from", day, "--sign-off", "--act", str(tmp_path / "act.xlsx"))
    assert signed.returncode == 0, signed.stderr + signed.stdout
    act = [row for row in load_workbook(tmp_path / "act.xlsx").active.iter_rows(values_only=True) if any(row)]
    differences = next(i for i, row in enumerate(act) if row[0] == "Differences and how each was settled")
    assert act[differences + 1][:4] == ("kind", "payment id", "state", "how it was settled")
    settled = {row[1]: row[2:4] for row in act[differences + 2 :] if row[1]}
    assert settled[short] == ("resolved", f"resolved by {getpass.getuser()}: refunded 500,00 by bank transfer")
    assert settled[uncalled] == ("corrected", f"credited by {getpass.getuser()} on operation 83: {note}")
    assert settled[declined] == ("corrected", f"closed by {getpass.getuser()}: declined at the terminal")

    book = tmp_path / "ops.xlsx"
    exported = cli(merchant, "--from", day, "--export", str(book))
    assert exported.returncode == 0, exported.stdout
    sheet = load_workbook(book).active
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:L5"
    assert sheet.column_dimensions["C"].width >= 30  # a payment id fits
    rows = {row[2].value: row for row in sheet.iter_rows(min_row=2)}
    first = rows[matched]
    assert first[0].is_date and first[0].number_format == "yyyy-mm-dd" and first[0].value.date().isoformat() == day
    assert first[1].is_date and first[1].number_format == "hh:mm:ss"
    assert first[6].value == 1111 and first[6].number_format == "#,##0.00" and first[6].data_type == "n"
    credit_note = f"credited by {getpass.getuser()} on operation 83: {note}"
    assert [c.value for c in rows[uncalled][9:12]] == ["status_differs", "corrected", credit_note]
    assert rows[short][10].value == "resolved" and rows[matched][10].value is None

    forms = (
        ("comma", ";", "1111,00", "2000,00"),
        ("point", ",", "1111.00", "2000.00"),
        ("minor", ";", "111100", "200000"),
    )
    for amounts, separator, text, other in forms:
        path = tmp_path / f"ops-{amounts}.csv"
        assert cli(merchant, "--from", day, "--export", str(path), "--amounts", amounts).returncode == 0
        read = list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines(), delimiter=separator))
        by_payment = {row[2]: row for row in read[1:]}
        assert (by_payment[matched][6], by_payment[short][6]) == (text, other)
        assert by_payment[uncalled][10] == "corrected"
    assert cli(merchant, "--from", day, "--export", str(tmp_path / "x.csv")).returncode == 0
    assert (tmp_path / "x.csv").read_text(encoding="utf-8-sig") == (tmp_path / "ops-comma.csv").read_text(
        encoding="utf-8-sig"
    )  # the default is the configured form: ; and 1111,00

    assert cli(merchant, "--reopen", str(mismatch), "--note", "the bank returned the transfer").returncode == 0
    after = cli(merchant, "--from", day)
    assert after.returncode == 1
    assert "reopened after sign-off" in after.stdout and f"#{mismatch} amount_mismatch {short} reopened" in after.stdout


def test_an_empty_month_from_the_data_api_is_refused_unless_accepted(merchant: AppServer, tmp_path: Path) -> None:
    customer, (contract,) = new_customer(merchant, {"payment": 100_000_000})
    paid = [paid_at(merchant, customer, contract, 100_000 + i, f"2026-11-{3 + i:02d} 10:00:00", i) for i in range(3)]

    async def run(*extra: str) -> subprocess.CompletedProcess[str]:
        listener, url = await serve_asgi(FakeDataApi([]))  # a wrong project: no operations at all
        try:
            env = {**merchant.env, "KASSA24_LOG_FILE": "/dev/null", "KASSA24_DATA_API_URL": url,
                   "KASSA24_DATA_API_TOKEN": "T" * 30, "KASSA24_DATA_API_SECRET": "data-api-key"}  # fmt: skip
            return await run_cli_async(
                "reconcile", "--data-api", "--from", "2026-11-01", "--to", "2026-11-30", "--format", "json", *extra,
                env=env,
            )  # fmt: skip
        finally:
            await listener.stop()

    refused = asyncio.run(run())
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.strip().splitlines() == [
        "platform record refused, nothing applied: the platform's record has no operations for 2026-11-03 … "
        "2026-11-05 (3 days), where we have 3 paid deposits: more likely a wrong project id (ours is 1234), wrong "
        "Data API credentials, a wrong period, or a report exported for another project (its project column) than "
        "lost payments; check those, or apply it anyway with --accept-empty"
    ]
    assert merchant.rows("SELECT count(*) AS n FROM platform_coverage")[0]["n"] == 0  # nothing applied
    assert merchant.rows("SELECT count(*) AS n FROM mismatches")[0]["n"] == 0
    accepted = asyncio.run(run("--accept-empty"))
    assert accepted.returncode == 1, accepted.stderr
    missing = [o["payment_id"] for o in json.loads(accepted.stdout)["open"] if o["kind"] == "missing_in_report"]
    assert sorted(missing) == sorted(paid)
    assert merchant.rows("SELECT count(*) AS n FROM platform_coverage")[0]["n"] == 30


async def test_the_console_shows_a_reopen_by_hand_after_sign_off(tmp_path: Path) -> None:
    """A finding resolved, the day signed, then reopened from the Mismatches pane (``o``):
    the pane's periods line turns to "reopened after sign-off" with the mismatch and note."""
    from kassa24_console import edits
    from kassa24_console.console.app import Kassa24App
    from kassa24_console.console.mismatches import MismatchesPane
    from kassa24_console.reconcile.engine import reconcile, sign_off, store_operations
    from tests.support.console import click_save, make_settings, post, until
    from tests.support.seeding import seed_demo

    settings = make_settings(tmp_path)
    await seed_demo(settings)
    app = Kassa24App(settings)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.listener_state == "listening")
        url = f"http://127.0.0.1:{app.runtime.listener.port}"
        paid = (await post(url, deposit_body("7012345678", "C-10001", 150_000))).json()["payment_id"]
        assert (await post(url, callback_body(paid, amount=150_000), path="/kassa24/callback")).status_code == 200
        store = app.store
        await store_operations(store, [], "csv:empty", today().days)
        summary = await reconcile(store, settings, today())
        (finding,) = summary.open_ids
        await edits.resolve_mismatch(store, finding, "the platform confirmed it by phone")
        await sign_off(store, today())
        await pilot.press("m")
        pane = app.query_one(MismatchesPane)
        await pane.action_toggle_resolved()
        await until(pilot, lambda: "✓" in str(app.query_one("#periods").render()))
        pane.table.move_cursor(row=list(pane.rows).index(next(k for k, m in pane.rows.items() if m.id == finding)))
        await pilot.press("o")
        await until(pilot, lambda: bool(app.screen.query("#note")))
        app.screen.query_one("#note").value = "not in the platform's record after all"
        await click_save(app, pilot)
        await until(pilot, lambda: "reopened after sign-off" in str(app.query_one("#periods").render()))
        shown = str(app.query_one("#periods").render())
        assert f"#{finding} missing_in_report {paid} reopened by" in shown
        assert "not in the platform's record after all" in shown
        await pilot.press("q")


def test_a_retry_across_midnight_is_carried_and_found_from_either_day(merchant: AppServer, tmp_path: Path) -> None:
    """The platform asked for a deposit at 23:59:55, got no answer in time and asked again
    after midnight, paying the second: the first stays unpaid on the 27th, its payment is the
    28th's. Each day says where the other half is; the retry is found whichever days are
    reconciled, never taken for an overdue callback; the act lists it."""
    customer, (contract,) = new_customer(merchant, {"payment": 100_000_000})
    noon = paid_at(merchant, customer, contract, 500_000, "2026-11-27 12:00:00", 1)
    unpaid = pay(merchant, customer, contract, 333_300, status=None)
    with sqlite3.connect(merchant.db_path) as db:
        db.execute("UPDATE deposits SET created_at = ? WHERE payment_id = ?", (at_local("2026-11-27 23:59:55"), unpaid))
    paid = paid_at(merchant, customer, contract, 333_300, "2026-11-28 00:00:40", 2)
    first = write_report(tmp_path / "27.csv", [line("91", noon, "Продажа", "Успешно", "5 000,00", customer,
                                                     "2026-11-27 12:00:02")])  # fmt: skip
    second = write_report(tmp_path / "28.csv", [line("92", paid, "Продажа", "Успешно", "3 333,00", customer,
                                                      "2026-11-28 00:00:42")])  # fmt: skip
    day27 = cli(merchant, "--report", str(first), "--from", "2026-11-27")
    assert day27.returncode == 1, day27.stderr  # the retry is open until someone says what it was
    assert f"retried on 2026-11-28: {unpaid} unpaid here, paid there as {paid}" in day27.stdout
    assert "difference 0,00\xa0₸" in day27.stdout and "difference after carried items: 0,00\xa0₸" in day27.stdout
    found = merchant.rows("SELECT kind FROM mismatches WHERE payment_id = ? AND state = 'open'", unpaid)
    assert [r["kind"] for r in found] == ["likely_retry"]  # not an overdue callback
    day28 = cli(merchant, "--report", str(second), "--from", "2026-11-28", "--format", "json")
    assert day28.returncode == 0, day28.stderr
    sides = json.loads(day28.stdout)["sides"]
    assert sides["carried"] == [
        {"direction": "from", "day": "2026-11-27", "payment_id": unpaid, "amount": 0, "paid_as": paid}
    ]
    assert sides["difference"] == 0 and sides["difference_after_carried"] == 0
    both = json.loads(cli(merchant, "--from", "2026-11-27", "--to", "2026-11-28", "--format", "json").stdout)
    assert both["sides"]["carried"] == [] and both["sides"]["difference"] == 0  # the pair is inside the period
    assert [f["kind"] for f in both["open"]] == ["likely_retry"]
    (retry,) = open_ids(merchant, unpaid)
    assert cli(merchant, "--resolve", str(retry), "--note", f"the platform's retry, paid as {paid}").returncode == 0
    signed = cli(merchant, "--from", "2026-11-27", "--sign-off", "--act", str(tmp_path / "act.xlsx"))
    assert signed.returncode == 0, signed.stderr
    act = [row for row in load_workbook(tmp_path / "act.xlsx").active.iter_rows(values_only=True) if any(row)]
    carried = next(i for i, row in enumerate(act) if row[0] == "Carried across midnight")
    assert act[carried + 1][:5] == (f"retry, paid as {paid}", unpaid, 0, "2026-11-28", "to")
    assert act[carried + 2][:2] == ("Difference after carried items, ₸", 0)


def test_reconcile_imports_only_what_it_runs(tmp_path: Path) -> None:
    """A month's reconcile spent half a second importing what it never runs: the listener's
    server, the alerts' Apprise, the Data API's client, Alembic for a database already at
    the newest migration. The second run on a database (the first creates it) imports none."""
    script = (
        "import sys\n"
        "from kassa24_console.commands import main as cli\n"
        "code = cli.main(['reconcile', '--from', '2026-11-27', '--format', 'json'])\n"
        "heavy = ('alembic', 'apprise', 'uvicorn', 'httpx', 'textual', 'prometheus_client')\n"
        "print(code, *[name for name in heavy if name in sys.modules])\n"
    )
    env = {"PATH": "/usr/bin:/bin", "KASSA24_DATABASE_URL": f"sqlite:///{tmp_path / 'k.db'}"}
    runs = [
        subprocess.run(
            [sys.executable, "-c", script],
            env={**env, "KASSA24_LOG_FILE": "/dev/null"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        for _ in range(2)
    ]
    first, second = (run.stdout.strip().splitlines()[-1].split() for run in runs)
    assert (tmp_path / "k.db").is_file() and first[0] == second[0]  # the first run made the database
    assert first[1:] == [], runs[0].stderr  # from the migrations' snapshot: no Alembic either
    assert second[1:] == [], runs[1].stderr
