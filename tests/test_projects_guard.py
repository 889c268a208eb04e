"""One project's platform record never takes another's: an operation id stored as one
project's is never overwritten, moved or matched by another project's report, and the
machine outputs that list findings or changes say whose each row is. Through serve's app
with two projects on a real SQLite file and the real ``reconcile`` and ``audit`` commands."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import subprocess
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from kassa24_console.store import Store
from kassa24_console.store.platform import OPERATION_COLUMNS, upsert_operations
from tests.support.cli import run_cli, run_cli_async
from tests.support.inprocess import AppServer, start_app
from tests.support.projects import PRODUCTION, PROJECTS, TEST, seed_projects
from tests.support.reconcile_projects import line_of, money_state, pay_in, reconcile_cli, report_of
from tests.support.reconciling import TOKEN_KEY, ZONE, FakeDataApi, api_item, serve_asgi


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    tmp: Path = tmp_path_factory.mktemp("projects_guard")
    srv = start_app(tmp, 2, KASSA24_PROJECTS=json.dumps(PROJECTS[:2]))  # serve's app in-process
    seed_projects(srv.db_url)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def paid(server: AppServer) -> dict[int, str]:
    return {PRODUCTION: pay_in(server, PRODUCTION, 150_000, 61), TEST: pay_in(server, TEST, 20_000, 62)}


def _operation(server: AppServer, operation_id: str) -> list[tuple[Any, ...]]:
    rows = server.rows(
        "SELECT operation_id, project_id, payment_id, amount, source, imported_at FROM platform_operations "
        "WHERE operation_id = ?",
        operation_id,
    )
    return [tuple(row) for row in rows]


def _coverage(server: AppServer, project: int) -> int:
    return server.rows("SELECT count(*) AS n FROM platform_coverage WHERE project_id = ?", project)[0]["n"]


def test_another_projects_report_never_overwrites_a_stored_operation(
    server: AppServer, paid: dict[int, str], tmp_path: Path
) -> None:
    ours = report_of(tmp_path, [line_of("7001", paid[PRODUCTION], PRODUCTION, "1500.00")])
    stored = reconcile_cli(server, "--project", str(PRODUCTION), "--report", str(ours))
    assert stored.returncode in (0, 1), stored.stderr
    production = _operation(server, "7001")
    assert [row[:4] for row in production] == [("7001", PRODUCTION, paid[PRODUCTION], 150_000)]
    before, covered = money_state(server, paid), _coverage(server, TEST)
    # The test project's record names the same operation id: with or without --project, the
    # whole record is refused with one line naming both projects, and nothing moves.
    theirs = str(report_of(tmp_path, [line_of("7001", paid[TEST], TEST, "200.00")]))
    for narrowed in ([], ["--project", str(TEST)]):
        refused = reconcile_cli(server, *narrowed, "--report", theirs)
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert refused.stderr.strip().splitlines() == [
            f"platform record refused, nothing applied: operation 7001 is stored as project {PRODUCTION}'s, "
            f"and this record gives it to project {TEST}: an operation is one project's"
        ]
        assert _operation(server, "7001") == production
        assert _coverage(server, TEST) == covered
        assert money_state(server, paid) == before


def test_a_data_api_answer_never_takes_another_projects_operation(server: AppServer, paid: dict[int, str]) -> None:
    """The test project's Data API answer names operation 7001, stored as production's: the
    answer is refused whole and production's operation stays as it was."""
    production = _operation(server, "7001")
    assert production, "stored by the first test"
    before = money_state(server, paid)
    now = datetime.now(ZONE).strftime("%Y-%m-%d %H:%M:%S")
    answer = [{**api_item(7001), "payment_id": paid[TEST], "project_id": TEST, "amount": 20_000, "created_date": now}]

    async def run() -> subprocess.CompletedProcess[str]:
        listener, url = await serve_asgi(FakeDataApi(answer))
        try:
            env = {
                **server.env,
                "KASSA24_DATA_API_URL": url,
                "KASSA24_DATA_API_TOKEN": "T" * 30,
                "KASSA24_DATA_API_SECRET": TOKEN_KEY,
            }
            command = ["reconcile", "--project", str(TEST), "--data-api"]
            return await run_cli_async(*command, env=env)
        finally:
            await listener.stop()

    refused = asyncio.run(run())
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert f"operation 7001 is stored as project {PRODUCTION}'s" in refused.stderr
    assert _operation(server, "7001") == production
    assert money_state(server, paid) == before


def test_a_record_giving_one_operation_id_to_two_projects_is_refused(
    server: AppServer, paid: dict[int, str], tmp_path: Path
) -> None:
    """Two reports of one run (a report repeating an id within itself is refused by its line)."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    ours = report_of(tmp_path / "a", [line_of("7002", paid[PRODUCTION], PRODUCTION, "1500.00")])
    theirs = report_of(tmp_path / "b", [line_of("7002", paid[TEST], TEST, "200.00")])
    before = money_state(server, paid)
    refused = reconcile_cli(server, "--report", str(ours), "--report", str(theirs))
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "operation 7002 is given to project 4242 and to project 4343" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert _operation(server, "7002") == []
    assert money_state(server, paid) == before


def test_the_store_never_moves_an_operation_to_another_project(server: AppServer, paid: dict[int, str]) -> None:
    """Even a write that slipped past the check (two processes at once) leaves another
    project's operation as it was: the upsert replaces only the same project's."""
    production = _operation(server, "7001")
    assert production, "stored by the first test"
    values = {
        "operation_id": "7001",
        "payment_id": paid[TEST],
        "project_id": TEST,
        "type": "sale",
        "status": "success",
        "method": "Kassa24",
        "amount": 20_000,
        "currency": "KZT",
        "source": "race",
        "imported_at": 1,
    }
    row = tuple(values.get(column) for column in OPERATION_COLUMNS)

    async def write() -> None:
        store = Store(server.db_url)
        await store.open()
        try:
            await store.write(lambda connection: upsert_operations(connection, [row]))
        finally:
            await store.close()

    asyncio.run(write())
    assert _operation(server, "7001") == production


def test_machine_outputs_of_several_projects_carry_the_project(
    server: AppServer, paid: dict[int, str], tmp_path: Path
) -> None:
    # A finding of the test project: its operation claims production's payment id.
    lines = [line_of("7001", paid[PRODUCTION], PRODUCTION, "1500.00"), line_of("7004", paid[TEST], TEST, "200.00")]
    report = report_of(tmp_path, [*lines, line_of("7003", paid[PRODUCTION], TEST, "1500.00")])
    done = reconcile_cli(server, "--report", str(report), "--format", "csv")
    assert done.returncode == 1, done.stdout + done.stderr
    rows = list(csv.reader(io.StringIO(done.stdout)))
    assert rows[0] == ["project", "id", "kind", "payment_id", "state", "evidence", "action"]
    assert all(row[0] != "project" for row in rows[1:])  # one header for every project
    findings = [(int(row[0]), row[2], row[3]) for row in rows[1:]]
    assert (TEST, "report_unknown_payment", paid[PRODUCTION]) in findings
    stored = server.rows("SELECT project_id, kind, payment_id FROM mismatches WHERE state = 'open'")
    assert sorted(findings) == sorted(tuple(row) for row in stored)
    for fmt in ("csv", "json"):
        audit = run_cli(
            "audit",
            "--format",
            fmt,
            env=server.env,
        )
        assert audit.returncode == 0, audit.stderr
        entries = list(csv.DictReader(io.StringIO(audit.stdout))) if fmt == "csv" else json.loads(audit.stdout)
        credited = {(int(e["project"]), e["cause"]) for e in entries if e["kind"] == "payment"}
        assert {(PRODUCTION, paid[PRODUCTION]), (TEST, paid[TEST])} <= credited
