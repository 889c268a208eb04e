"""Key rotation as the operator sees it: ``kassa24-console keys`` (which key signs, when the
previous one ends, never a key), the ``key_expiring`` alert, the console's header; and the
commands that take ``--project``."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine

from kassa24_console.alerts import rules
from kassa24_console.config import Settings
from kassa24_console.store.db import create_schema
from tests.support.cli import run_cli
from tests.support.console import until

NOW = time.time_ns() // 1000
HOUR_US = 3_600_000_000
SECRETS = ("production-key-0123456789", "production-old-key-012345", "test-project-key-0123456789")


def _projects(previous_until: datetime) -> list[dict]:
    return [
        {
            "project_id": 4242,
            "name": "production",
            "secret_key": SECRETS[0],
            "previous_secret_key": SECRETS[1],
            "previous_key_until": previous_until.isoformat(),
        },
        {"project_id": 4343, "name": "test", "test": True, "secret_key": SECRETS[2]},
    ]


def _database(path: Path, uses: list[tuple[int, str, int]]) -> str:
    """A migrated database whose traffic says (project, key, at) signed requests."""
    url = f"sqlite:///{path}"
    engine = create_engine(url)
    with engine.begin() as connection:
        create_schema(connection, project_id=4242)
    engine.dispose()
    with sqlite3.connect(path) as db:
        db.executemany(
            "INSERT INTO traffic (at, kind, project_id, key_used, http_status, latency_us, peer, request, response)"
            " VALUES (?, 'verify', ?, ?, 200, 5, '127.0.0.1', '{}', '{}')",
            [(at, project, key) for project, key, at in uses],
        )
    return url


def _settings(url: str, previous_until: datetime, **extra: object) -> Settings:
    return Settings(database_url=url, projects=_projects(previous_until), **extra)


def _cli(tmp: Path, url: str, previous_until: datetime, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KASSA24_")}
    env |= {
        "HOME": str(tmp),
        "LANG": "C.UTF-8",
        "KASSA24_DATABASE_URL": url,
        "KASSA24_LOG_FILE": str(tmp / "k.log"),
        "KASSA24_PROJECTS": json.dumps(_projects(previous_until)),
    }
    return run_cli(*args, env=env)


def test_keys_says_which_key_signs_per_project_and_never_a_key(tmp_path: Path) -> None:
    ends = datetime.now(UTC) + timedelta(days=2)
    uses = [(4242, "current", NOW - HOUR_US)] * 3 + [(4242, "previous", NOW - 2 * HOUR_US)]
    uses += [(4343, "current", NOW - HOUR_US), (4242, "previous", NOW - 48 * HOUR_US)]  # the last: too old
    url = _database(tmp_path / "k.db", uses)
    done = _cli(tmp_path, url, ends, "keys", "--json")
    assert done.returncode == 0, done.stderr
    production, test = json.loads(done.stdout)
    assert (production["project_id"], production["current"]["requests"], production["previous"]["requests"]) == (
        4242,
        3,
        1,
    )
    assert production["previous_key_accepted"] and production["previous_key_until"].startswith(ends.date().isoformat())
    assert (test["test"], test["current"]["requests"], test["has_previous_key"]) == (True, 1, False)
    shown = _cli(tmp_path, url, ends, "keys")
    assert shown.returncode == 0, shown.stderr
    assert "production (4242): previous key accepted until" in shown.stdout
    assert "test (4343) · TEST: no previous key" in shown.stdout
    assert "previous key: 1 request in the last 24 h" in shown.stdout
    for secret in SECRETS:
        assert secret not in done.stdout + shown.stdout + shown.stderr


def test_the_key_expiring_alert_fires_only_while_the_previous_key_is_used_near_its_end(tmp_path: Path) -> None:
    url = _database(tmp_path / "k.db", [(4242, "previous", NOW - HOUR_US), (4343, "current", NOW - HOUR_US)])
    engine = create_engine(url)

    def conditions(ends: datetime) -> list[rules.Condition]:
        with engine.connect() as connection:
            return [c for c in rules.evaluate(connection, _settings(url, ends), NOW, []) if c.rule == "key_expiring"]

    near = conditions(datetime.now(UTC) + timedelta(hours=5))
    assert [(c.key, c.project_id) for c in near] == [("key_expiring:4242", 4242)]  # the project's alert
    assert "production (4242)" in near[0].title and SECRETS[1] not in near[0].text
    assert conditions(datetime.now(UTC) + timedelta(days=30)) == []  # not near its end yet
    assert conditions(datetime.now(UTC) - timedelta(hours=1)) == []  # over: the signature alert's business
    with sqlite3.connect(tmp_path / "k.db") as db:
        db.execute("DELETE FROM traffic WHERE key_used = 'previous'")
    assert conditions(datetime.now(UTC) + timedelta(hours=5)) == []  # the platform switched already
    engine.dispose()


async def test_the_header_lists_the_projects_and_says_the_previous_key_is_still_in_use(tmp_path: Path) -> None:
    from kassa24_console.console.app import Kassa24App

    url = _database(tmp_path / "k.db", [(4242, "previous", NOW - 60_000_000)])
    settings = _settings(url, datetime.now(UTC) + timedelta(hours=5), log_file=tmp_path / "k.log", port=0)
    app = Kassa24App(settings, attach=True)
    async with app.run_test(size=(160, 40)) as pilot:
        await until(pilot, lambda: app.key_note is not None, timeout=15)
        line = str(app.query_one("#status-line").render())
        assert "projects: production 4242 · test 4343 TEST" in line
        assert "previous key of production (4242) still in use, ends" in line


def test_import_db_info_and_audit_take_a_project(tmp_path: Path) -> None:
    url = _database(tmp_path / "k.db", [])
    ends = datetime.now(UTC) + timedelta(days=2)
    rows = {
        "accounts": [{"customer_id": "7001", "name": "A"}, {"customer_id": "7002", "name": "B", "project_id": 4242}],
        "contracts": [{"id": "C-1", "customer_id": "7001", "number": "N-1", "payment": 100}],
    }
    data = tmp_path / "rows.json"
    data.write_text(json.dumps(rows))
    refused = _cli(tmp_path, url, ends, "import", str(data))
    assert refused.returncode == 2
    assert "several projects are configured: say which with --project ID (one of 4242, 4343)" in refused.stderr
    assert _cli(tmp_path, url, ends, "import", "--project", "9", str(data)).returncode == 2
    done = _cli(tmp_path, url, ends, "import", "--project", "4343", str(data))
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(tmp_path / "k.db") as db:
        assert db.execute("SELECT project_id, customer_id FROM accounts ORDER BY 2").fetchall() == [
            (4343, "7001"),
            (4242, "7002"),
        ]
        assert db.execute("SELECT project_id, id FROM contracts").fetchall() == [(4343, "C-1")]
    info = _cli(tmp_path, url, ends, "db", "info", "--project", "4343")
    assert info.returncode == 0, info.stderr
    assert "accounts     1" in info.stdout and "contracts    1" in info.stdout
    audit = _cli(tmp_path, url, ends, "audit", "--project", "4242", "--format", "json")
    assert audit.returncode == 0, audit.stderr
    assert {(e["entity"], e["entity_id"]) for e in json.loads(audit.stdout)} == {
        ("import", "rows.json"),
        ("account", "7002"),
    }


async def test_two_projects_contracts_of_one_id_are_listed_and_edited_apart(tmp_path: Path) -> None:
    """The Contracts pane keeps another project's contract of the same id apart (a row key of
    its own), and an edit of one touches only its project's contract."""
    from kassa24_console import edits, importer
    from kassa24_console.console.app import Kassa24App
    from kassa24_console.console.panes import ContractsPane
    from kassa24_console.store import Store

    url = _database(tmp_path / "k.db", [])
    store = Store(url, project_id=4242)
    await store.open()
    for project, due in ((4242, 900), (4343, 300)):
        contract = {"id": "C-1", "customer_id": "7001", "number": f"N-{project}", "payment": due}
        account = {"customer_id": "7001", "name": f"Name {project}", "currency": "KZT", "additional_customer_id": None}
        contract |= {"min_payment": None, "status_code": 0, "status_text": "", "info": None}
        await importer.apply(store, importer.Batch([account], [contract], ["t"]), actor="t", project_id=project)
    seen = await edits.load_contract(store, "C-1", 4343)
    change = edits.ContractChange(seen.values.status_code, "blocked by test", seen.values.payment, None)
    assert await edits.update_contract(store, seen, change, actor="t") == 1
    await store.close()
    with sqlite3.connect(tmp_path / "k.db") as db:
        assert db.execute("SELECT project_id, status_text FROM contracts ORDER BY 1").fetchall() == [
            (4242, ""),
            (4343, "blocked by test"),
        ]
    settings = _settings(url, datetime.now(UTC) + timedelta(days=30), log_file=tmp_path / "k.log", port=0)
    app = Kassa24App(settings, attach=True)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("c")
        pane = app.query_one(ContractsPane)
        await until(pilot, lambda: pane.table.row_count == 2, timeout=15)
        assert set(pane.rows) == {"C-1", "4343:C-1"}
        assert (pane.rows["C-1"].number, pane.rows["4343:C-1"].number) == ("N-4242", "N-4343")


async def test_the_traffic_detail_says_which_key_signed_each_request(tmp_path: Path) -> None:
    """Over real HTTP to the console's own listener: a verify signed with production's previous
    key (before its end) and one with its current key; the detail view of each says which."""
    import httpx

    from kassa24_console.console.app import Kassa24App
    from kassa24_console.console.screens import DetailScreen
    from kassa24_console.console.traffic import TrafficPane
    from kassa24_console.protocol.signature import signed
    from tests.support.bodies import verify_body

    url = _database(tmp_path / "k.db", [])
    ends = datetime.now(UTC) + timedelta(days=2)
    settings = _settings(url, ends, log_file=tmp_path / "k.log", port=0, traffic_flush_interval=0.05)
    app = Kassa24App(settings)
    async with app.run_test(size=(160, 40)) as pilot:
        await until(pilot, lambda: app.listener_state == "listening", timeout=30)
        assert app.runtime is not None
        listener = f"http://127.0.0.1:{app.runtime.listener.port}/kassa24"
        table = app.query_one(TrafficPane).table
        shown = []
        for number, key in enumerate((SECRETS[1], SECRETS[0]), start=1):  # the previous key, then the current
            async with httpx.AsyncClient() as client:
                answer = await client.post(listener, json=signed({**verify_body("7001"), "project_id": 4242}, key))
            assert answer.json()["code"] == 404  # checked with the project's key, answered (no such customer)
            await until(pilot, lambda n=number: table.row_count == n, timeout=15)
            table.focus()
            table.move_to(number - 1)
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, DetailScreen))
            shown.append(app.screen.query_one("#detail-response").text)
            await pilot.press("escape")
            await until(pilot, lambda: not isinstance(app.screen, DetailScreen))
    assert "# signed with the previous key · project 4242" in shown[0]
    assert "# signed with the current key · project 4242" in shown[1]
    assert not any(secret in text for secret in SECRETS for text in shown)
