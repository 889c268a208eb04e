"""A real month as a finance desk reconciles it: operation types in the desk's words, days
that meet at midnight, a stale clock database, arguments that cannot read as all clear."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import datetime
from importlib import resources
from pathlib import Path

import pytest
from conftest import Server, callback_body, deposit_body, new_customer, start_serve
from test_reconcile import HEADER, ZONE, FakeDataApi, _api, _item, _serve, pay

from kassa24_console import timeline
from kassa24_console.reconcile.data_api import DataApiError
from kassa24_console.store import Store


@pytest.fixture
def merchant(tmp_path: Path):
    server = start_serve(tmp_path)
    yield server
    server.stop()


def cli(server: Server, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kassa24_console.cli", "reconcile", *args],
        env={**server.env, "KASSA24_LOG_FILE": "/dev/null", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


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
    result = subprocess.run(
        [sys.executable, "-m", "kassa24_console.cli", command],
        env={
            "PATH": "/usr/bin:/bin",
            "KASSA24_TIMEZONE": "Asia/Almati",
            "KASSA24_DATABASE_URL": f"sqlite:///{tmp_path / 'k.db'}",
            "KASSA24_LOG_FILE": "/dev/null",
        },
        capture_output=True,
        text=True,
        timeout=60,
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
    result = subprocess.run(
        [sys.executable, "-m", "kassa24_console.cli", "reconcile", *args],
        env={**env, "KASSA24_LOG_FILE": "/dev/null"},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and says in result.stderr
    assert result.stdout == "" and not (tmp_path / "out.pdf").exists() and not (tmp_path / "k.db").exists()


def write_report(path: Path, lines: list[str], encoding: str = "utf-8") -> Path:
    path.write_bytes(("\n".join([HEADER, *lines]) + "\n").encode(encoding))
    return path


def line(op: str, payment_id: str, kind: str, status: str, amount: str, customer: str, at: str | None = None) -> str:
    at = at or datetime.now(ZONE).strftime("%Y-%m-%d %H:%M:%S")
    return f"{op};{payment_id};1234;{kind};{status};Kassa24;{amount};KZT;{customer};{at};{at}"


def test_russian_types_mapped_an_unknown_type_refused_with_its_line(merchant: Server, tmp_path: Path) -> None:
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
    items = [{**_item(1), "operation_type": "Продажа"}, {**_item(2), "operation_type": "refund"}]
    listener, url = await _serve(FakeDataApi([*items, {**_item(3), "operation_type": "gift"}]))
    try:
        with pytest.raises(DataApiError, match=r"item 2: unknown operation type 'gift' \(map it with report_types"):
            await _api(url).operations(datetime(2026, 11, 27), datetime(2026, 11, 28))
    finally:
        await listener.stop()
    listener, url = await _serve(FakeDataApi(items))
    try:
        operations = await _api(url).operations(datetime(2026, 11, 27), datetime(2026, 11, 28))
    finally:
        await listener.stop()
    assert [o.type for o in operations] == ["sale", "refund"]


def test_an_overpayment_is_kept_as_the_contracts_credit_with_its_finding(merchant: Server) -> None:
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
