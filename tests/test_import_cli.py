"""``kassa24-console import``: JSON and CSV, upserts, and bad rows reported with their line."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import run_cli
from tests.support.common import ROOT


def _run(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "KASSA24_DATABASE_URL": f"sqlite:///{tmp / 'k24.db'}",
        "KASSA24_SECRET_KEY": "s",
        "KASSA24_LOG_FILE": str(tmp / "log"),
        "PATH": "/usr/bin:/bin",
    }
    return run_cli(*args, env=env, cwd=tmp)


def _rows(tmp: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(tmp / "k24.db") as connection:
        return connection.execute(sql).fetchall()


def test_import_demo_json_then_upsert(tmp_path: Path) -> None:
    demo = ROOT / "data" / "demo" / "demo.json"
    result = _run(tmp_path, "import", str(demo))
    assert result.returncode == 0, result.stderr
    assert "imported 6 accounts and 10 contracts" in result.stdout
    assert _rows(tmp_path, "SELECT count(*) FROM contracts") == [(10,)]
    assert _rows(tmp_path, "SELECT status_code FROM contracts WHERE id = 'C-30001'") == [(206,)]

    update = tmp_path / "update.json"
    update.write_text(
        json.dumps(
            {
                "contracts": [
                    {
                        "id": "C-30001",
                        "customer_id": "7034567890",
                        "number": "3001_ALM/11-09-2023/Ik2Vr5",
                        "payment": 1,
                        "status_code": 0,
                    }
                ]
            }
        )
    )
    assert _run(tmp_path, "import", str(update)).returncode == 0
    assert _rows(tmp_path, "SELECT count(*) FROM contracts") == [(10,)]
    assert _rows(tmp_path, "SELECT payment, status_code FROM contracts WHERE id = 'C-30001'") == [(1, 0)]
    assert _rows(tmp_path, "SELECT count(*) FROM audit WHERE entity = 'import'") == [(2,)]


def test_import_csv_files(tmp_path: Path) -> None:
    (tmp_path / "accounts.csv").write_text("customer_id;name;currency\n100;Асель;KZT\n200;Иван;\n")
    (tmp_path / "contracts.csv").write_text(
        "id,customer_id,number,payment,min_payment,status_code,status_text,info\n"
        'K1,100,N-1,5000,,0,,"{""customer_name"": ""Асель""}"\n'
        "K2,200,N-2,,100,204,нет долга,\n"
    )
    result = _run(tmp_path, "import", str(tmp_path / "accounts.csv"), str(tmp_path / "contracts.csv"))
    assert result.returncode == 0, result.stderr
    assert _rows(tmp_path, "SELECT customer_id, name, currency FROM accounts ORDER BY customer_id") == [
        ("100", "Асель", "KZT"),
        ("200", "Иван", "KZT"),
    ]
    rows = _rows(tmp_path, "SELECT id, payment, min_payment, status_code, status_text, info FROM contracts ORDER BY id")
    assert rows == [("K1", 5000, None, 0, "", '{"customer_name": "Асель"}'), ("K2", 0, 100, 204, "нет долга", None)]


@pytest.mark.parametrize(
    ("name", "text", "reason"),
    [
        (
            "bad.json",
            '{"accounts": [\n  {"customer_id": "1"},\n  {"customer_id": "2", "currency": "kzt"}\n]}',
            "line 3: invalid field 'currency'",
        ),
        (
            "bad.json",
            '{"accounts": [{"customer_id": "1"}],\n "contracts": [\n {"id": "x", "customer_id": "1"}]}',
            "line 3: missing field 'number'",
        ),
        ("bad.json", '{"accounts": [{"customer_id": "1", "colour": "red"}]}', "line 1: unknown field 'colour'"),
        ("bad.json", '{"accounts": [', "not valid JSON"),
        ("bad.csv", "id,customer_id,number,payment\nK1,1,N,10\nK2,1,N,12.50\n", "line 3: invalid field 'payment'"),
        (
            "bad.csv",
            "id,customer_id,number,payment\nK1,1,N,100000000000000000000\n",
            "line 2: invalid field 'payment': is out of range",
        ),
        ("bad.csv", "id,number\nK1,N\n", "needs a customer_id column"),
    ],
)
def test_bad_rows_are_reported_and_nothing_applied(tmp_path: Path, name: str, text: str, reason: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    result = _run(tmp_path, "import", str(path))
    assert result.returncode == 1
    assert reason in result.stderr
    assert "nothing applied" in result.stderr
    assert not (tmp_path / "k24.db").exists() or _rows(tmp_path, "SELECT count(*) FROM accounts") == [(0,)]


def test_contract_of_unknown_account_applies_nothing(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(
        json.dumps({"accounts": [{"customer_id": "1"}], "contracts": [{"id": "x", "customer_id": "2", "number": "n"}]})
    )
    result = _run(tmp_path, "import", str(path))
    assert result.returncode == 1
    assert "unknown accounts: 2" in result.stderr
    assert _rows(tmp_path, "SELECT count(*) FROM accounts") == [(0,)]


# --- refusals, not surprises --------------------------------------------------------------------


@pytest.mark.parametrize("command", [["db", "info"], ["audit"]])
def test_a_command_that_reads_never_creates_a_database(tmp_path: Path, command: list[str]) -> None:
    typo = tmp_path / "typo" / "k24.db"
    done = run_cli(
        "--database-url", f"sqlite:///{typo}", *command,
        env={"KASSA24_SECRET_KEY": "s", "KASSA24_LOG_FILE": str(tmp_path / "log"), "PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode != 0 and f"cannot open the database {typo}: there is no such file" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "typo").exists()


def test_a_closed_pipe_ends_audit_quietly(tmp_path: Path) -> None:
    """More audit than a pipe holds (3 000 rows), read 10 bytes of: no traceback."""
    for name in ("Name", "Renamed"):  # 3 000 created, then 3 000 renamed: 6 000 audit rows
        lines = "".join(f"{i};{name} {i};KZT\n" for i in range(3000))
        (tmp_path / "accounts.csv").write_text("customer_id;name;currency\n" + lines)
        assert _run(tmp_path, "import", str(tmp_path / "accounts.csv")).returncode == 0
    env = {"KASSA24_DATABASE_URL": f"sqlite:///{tmp_path / 'k24.db'}", "KASSA24_SECRET_KEY": "s"}
    env |= {"KASSA24_LOG_FILE": str(tmp_path / "log"), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        f"{sys.executable} -m kassa24_console audit --format csv | head -c 10",
        shell=True, env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert len(done.stdout) == 10 and done.stderr == ""


def test_an_id_twice_in_one_import_is_refused_naming_both_lines(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("customer_id;name;currency\n100;Асель;KZT\n200;Иван;\n100;Асель Б.;KZT\n")
    result = _run(tmp_path, "import", str(tmp_path / "a.csv"))
    assert result.returncode == 1
    assert (
        f"{tmp_path / 'a.csv'}: line 4: account '100' is already given at {tmp_path / 'a.csv'}: line 2" in result.stderr
    )
    assert not (tmp_path / "k24.db").exists() or _rows(tmp_path, "SELECT count(*) FROM accounts") == [(0,)]
    row = '{"id": "K1", "customer_id": "1", "number": "N"}'
    contracts = '{"contracts": [\n' + row + ",\n" + row + "]}"
    (tmp_path / "c.json").write_text(contracts)
    result = _run(tmp_path, "import", str(tmp_path / "c.json"))
    assert (
        result.returncode == 1
        and "line 3: contract 'K1' is already given at" in result.stderr
        and "line 2" in result.stderr
    )


def test_every_field_an_import_changes_is_audited_old_to_new(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("customer_id;name;currency\n100;Асель;KZT\n")
    (tmp_path / "c.csv").write_text('id;customer_id;number;payment;info\nK1;100;N-1;5000;"{""a"": 1}"\n')
    assert _run(tmp_path, "import", str(tmp_path / "a.csv"), str(tmp_path / "c.csv")).returncode == 0
    (tmp_path / "a.csv").write_text("customer_id;name;currency\n100;Асель Бекова;KZT\n")
    (tmp_path / "c.csv").write_text('id;customer_id;number;payment;info\nK1;100;N-1;4000;"{""a"": 2}"\n')
    assert _run(tmp_path, "import", str(tmp_path / "a.csv"), str(tmp_path / "c.csv")).returncode == 0
    changes = _rows(
        tmp_path,
        "SELECT entity, entity_id, field, old, new FROM audit"
        " WHERE kind = 'import' AND field NOT IN ('rows', 'created') ORDER BY id",
    )
    assert changes == [
        ("account", "100", "name", "Асель", "Асель Бекова"),
        ("contract", "K1", "payment", "5000", "4000"),
        ("contract", "K1", "info", '{"a": 1}', '{"a": 2}'),
    ]
    created = _rows(tmp_path, "SELECT entity, entity_id FROM audit WHERE field = 'created' ORDER BY id")
    assert created == [("account", "100"), ("contract", "K1")]
