"""Reconciliation per project, through serve's app with two projects on a real SQLite file and
the real ``reconcile`` command: each operation of the report goes to its project (its project
column); money, findings, coverage, sign-off and the act stay inside their project."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from kassa24_console.listener import Listener
from kassa24_console.protocol.signature import signed, verify
from tests.support.cli import run_cli, run_cli_async
from tests.support.common import read_body
from tests.support.inprocess import AppServer, start_app
from tests.support.projects import PRODUCTION, PROJECTS, SHARED, TEST, seed_projects
from tests.support.reconcile_projects import line_of, money_state, pay_in, reconcile_cli, report_of
from tests.support.reconciling import ZONE


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    tmp: Path = tmp_path_factory.mktemp("reconcile_projects")
    srv = start_app(tmp, 2, KASSA24_PROJECTS=json.dumps(PROJECTS[:2]))  # serve's app in-process
    seed_projects(srv.db_url)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def paid(server: AppServer) -> dict[int, str]:
    """One paid deposit in each project, for the same customer id and contract id."""
    return {PRODUCTION: pay_in(server, PRODUCTION, 150_000, 71), TEST: pay_in(server, TEST, 20_000, 72)}


def test_an_operation_of_a_project_we_do_not_have_is_refused_with_its_line(
    server: AppServer, paid: dict[int, str], tmp_path: Path
) -> None:
    report = report_of(
        tmp_path,
        [line_of("8001", paid[PRODUCTION], PRODUCTION, "1500.00"), line_of("8002", paid[TEST], 9999, "200.00")],
    )
    before = money_state(server, paid)
    done = reconcile_cli(server, "--report", str(report))
    assert done.returncode == 2, done.stderr
    assert "line 3" in done.stderr and "9999" in done.stderr and "Traceback" not in done.stderr
    assert server.rows("SELECT count(*) AS n FROM platform_operations")[0]["n"] == 0  # nothing applied
    assert server.rows("SELECT count(*) AS n FROM platform_coverage")[0]["n"] == 0
    assert money_state(server, paid) == before


def test_a_two_project_report_is_reconciled_per_project(
    server: AppServer, paid: dict[int, str], tmp_path: Path
) -> None:
    report = report_of(
        tmp_path,
        [
            line_of("9001", paid[PRODUCTION], PRODUCTION, "1500.00"),
            line_of("9002", paid[TEST], TEST, "200.00"),
            # The test project's operation claims production's payment id: never matched with it.
            line_of("9003", paid[PRODUCTION], TEST, "1500.00"),
        ],
    )
    before = money_state(server, paid)
    done = reconcile_cli(server, "--report", str(report), "--format", "json")
    assert done.returncode == 1, done.stderr  # the test project has an open finding
    runs = {run["project"]: run for run in json.loads(done.stdout)["projects"]}
    assert sorted(runs) == [PRODUCTION, TEST]
    assert runs[PRODUCTION]["open"] == [] and runs[PRODUCTION]["no_platform_record"] == []
    claims = [(o["kind"], o["payment_id"], o["evidence"]["report"]["operation_id"]) for o in runs[TEST]["open"]]
    assert claims == [("report_unknown_payment", paid[PRODUCTION], "9003")]
    # Each side's totals are its own project's only.
    assert runs[PRODUCTION]["sides"] != runs[TEST]["sides"]
    operations = server.rows("SELECT operation_id, project_id FROM platform_operations ORDER BY operation_id")
    assert [tuple(r) for r in operations] == [("9001", PRODUCTION), ("9002", TEST), ("9003", TEST)]
    findings = server.rows("SELECT kind, project_id, state FROM mismatches WHERE payment_id = ?", paid[PRODUCTION])
    assert [tuple(r) for r in findings] == [("report_unknown_payment", TEST, "open")]
    coverage = server.rows("SELECT DISTINCT project_id FROM platform_coverage ORDER BY project_id")
    assert [r["project_id"] for r in coverage] == [PRODUCTION, TEST]
    assert money_state(server, paid) == before  # nothing moved


def test_sign_off_and_the_act_need_a_project_when_there_are_several(server: AppServer, paid: dict[int, str]) -> None:
    for args in (["--sign-off"], ["--act", "act.xlsx"], ["--export", "rows.csv"]):
        done = reconcile_cli(server, *args)
        assert done.returncode == 2 and "--project" in done.stderr and "Traceback" not in done.stderr, args
    done = reconcile_cli(server, "--project", "5555")
    assert done.returncode == 2 and "5555" in done.stderr
    assert server.rows("SELECT count(*) AS n FROM periods")[0]["n"] == 0


def test_sign_off_of_one_project_leaves_the_other_open_and_the_act_is_the_projects(
    server: AppServer, paid: dict[int, str], tmp_path: Path
) -> None:
    act = tmp_path / "act.xlsx"
    done = reconcile_cli(server, "--project", str(PRODUCTION), "--sign-off", "--act", str(act))
    assert done.returncode == 0, done.stdout + done.stderr
    refused = reconcile_cli(server, "--project", str(TEST), "--sign-off")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert paid[PRODUCTION] in refused.stderr  # the open finding that holds it, named
    periods = server.rows("SELECT project_id FROM periods")
    assert [r["project_id"] for r in periods] == [PRODUCTION]
    cells = [c for row in openpyxl.load_workbook(act).worksheets[0].iter_rows(values_only=True) for c in row]
    numbers = {c for c in cells if isinstance(c, (int, float))}
    assert 1500 in numbers or 150_000 in numbers  # production's turnover
    assert not ({200, 20_000, 1700, 170_000} & numbers)  # never the test project's, nor both added
    # The test project signs off once its finding is worked, and production stays signed.
    finding = server.rows("SELECT id FROM mismatches WHERE kind = 'report_unknown_payment'")[0]["id"]
    resolved = reconcile_cli(server, "--resolve", str(finding), "--note", "the test project's report row, checked")
    assert resolved.returncode == 0, resolved.stderr
    signed = reconcile_cli(server, "--project", str(TEST), "--sign-off")
    assert signed.returncode == 0, signed.stdout + signed.stderr
    periods = server.rows("SELECT project_id, reopened_at FROM periods ORDER BY project_id")
    assert [tuple(r) for r in periods] == [(PRODUCTION, None), (TEST, None)]


def test_a_project_a_report_never_names_is_not_reconciled_by_it(server: AppServer, tmp_path: Path) -> None:
    """A report whose project column names production only is production's record: the test
    project's days stay without a platform record (never "all clear" from a report that says
    nothing of it), and every output says which record covered which project."""
    day, operation = "2026-01-05", "9501"
    line = f"{operation};k24_NOT_OURS_9501;{PRODUCTION};sale;success;Kassa24;50.00;KZT;{SHARED};{day} 10:00:00;"
    report = report_of(tmp_path, [line + f"{day} 10:00:05"])
    done = reconcile_cli(server, "--report", str(report), "--format", "json")
    assert done.returncode == 1, done.stderr
    runs = {run["project"]: run for run in json.loads(done.stdout)["projects"]}
    assert (runs[PRODUCTION]["records"], runs[PRODUCTION]["records_of_other_projects"]) == (["csv:report.csv"], [])
    assert runs[PRODUCTION]["no_platform_record"] == []
    assert (runs[TEST]["records"], runs[TEST]["records_of_other_projects"]) == ([], ["csv:report.csv"])
    assert runs[TEST]["no_platform_record"] == [day]  # not reconciled for that day
    coverage = server.rows("SELECT project_id FROM platform_coverage WHERE day = ?", day)
    assert [r["project_id"] for r in coverage] == [PRODUCTION]

    table = reconcile_cli(server, "--report", str(report))
    assert table.returncode == 1, table.stderr
    assert f"csv:report.csv has no operation of project {TEST}: not its record" in table.stdout
    assert f"no platform record for {day}" in table.stdout
    assert f"has no operation of project {PRODUCTION}" not in table.stdout
    one = reconcile_cli(server, "--project", str(TEST), "--report", str(report), "--sign-off")
    assert one.returncode == 1 and f"no platform record for {day}" in one.stderr, one.stdout + one.stderr
    left = server.rows("SELECT count(*) AS n FROM platform_coverage WHERE project_id = ? AND day = ?", TEST, day)
    assert left[0]["n"] == 0


def test_the_audit_of_a_project_holds_its_findings_resolves_and_not_the_others(server: AppServer) -> None:
    finding = server.rows("SELECT id FROM mismatches WHERE kind = 'report_unknown_payment' AND project_id = ?", TEST)
    assert finding, "worked by the sign-off test above"

    def audit(project: int) -> set[tuple[str, str, str]]:
        done = run_cli(
            "audit",
            "--project",
            str(project),
            "--format",
            "json",
            env=server.env,
        )
        assert done.returncode == 0, done.stderr
        return {(e["kind"], e["entity"], e["entity_id"]) for e in json.loads(done.stdout) if e["entity"] != "contract"}

    resolved = ("resolve", "mismatch", str(finding[0]["id"]))
    assert resolved in audit(TEST)
    assert resolved not in audit(PRODUCTION)
    assert ("sign_off", "period") in {(k, e) for k, e, _id in audit(PRODUCTION)}


class PerProjectDataApi:
    """The Data API over real HTTP, knowing each project by its own token and key: a request
    is answered (signed with that key) with that project's operations only."""

    def __init__(self, accounts: dict[str, tuple[str, int, list[dict[str, Any]]]]) -> None:
        self.accounts = accounts  # token → (its key, its project, its operations)
        self.asked: list[tuple[str, list[int]]] = []  # (token, the projects asked for) of each request

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = json.loads(await read_body(receive))
        self.asked.append((body.get("token"), body.get("project_id")))
        key, project, operations = self.accounts.get(body.get("token"), ("", 0, []))
        if not key or not verify(body, key) or body.get("project_id") != [project]:
            status, answer = 403, {"error": "bad token, signature or project"}
        else:
            page = operations[body["offset"] : body["offset"] + body["limit"]]
            status, answer = 200, signed({"operations": page, "count": len(page)}, key)
        await send(
            {"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]}
        )
        await send({"type": "http.response.body", "body": json.dumps(answer).encode()})


def test_the_data_api_is_asked_once_per_project_with_that_projects_credentials(
    server: AppServer, paid: dict[int, str]
) -> None:
    now = datetime.now(ZONE).strftime("%Y-%m-%d %H:%M:%S")

    def item(operation: str, project: int, amount: int) -> dict[str, Any]:
        return {
            "operation_id": operation,
            "payment_id": paid[project],
            "project_id": project,
            "operation_type": "sale",
            "operation_status": "success",
            "payment_method": "Kassa24",
            "amount": amount,
            "currency": "KZT",
            "created_date": now,
            "completed_date": now,
        }

    tokens = {PRODUCTION: "P" * 30, TEST: "Q" * 30}
    keys = {PRODUCTION: "production-data-api-key", TEST: "test-data-api-key-other"}
    api = PerProjectDataApi(
        {
            tokens[PRODUCTION]: (keys[PRODUCTION], PRODUCTION, [item("9001", PRODUCTION, 150_000)]),
            tokens[TEST]: (keys[TEST], TEST, [item("9002", TEST, 20_000)]),
        }
    )
    credentials = [
        {"data_api_token": tokens[p["project_id"]], "data_api_secret": keys[p["project_id"]]} for p in PROJECTS[:2]
    ]
    projects = [{**p, **c} for p, c in zip(PROJECTS[:2], credentials, strict=True)]
    before = money_state(server, paid)

    async def run() -> subprocess.CompletedProcess[str]:
        listener = Listener(api, "127.0.0.1", 0)
        await listener.start()
        try:
            env = {**server.env, "KASSA24_PROJECTS": json.dumps(projects)}
            env["KASSA24_DATA_API_URL"] = f"http://127.0.0.1:{listener.port}"
            command = ["reconcile", "--data-api", "--format", "json"]
            return await run_cli_async(*command, env=env)
        finally:
            await listener.stop()

    done = asyncio.run(run())
    assert done.returncode in (0, 1), done.stdout + done.stderr
    assert {(token, tuple(ids)) for token, ids in api.asked} == {
        (tokens[PRODUCTION], (PRODUCTION,)),
        (tokens[TEST], (TEST,)),
    }  # each project asked for with its own token (signed with its key: else refused)
    runs = {run["project"]: run for run in json.loads(done.stdout)["projects"]}
    assert runs[PRODUCTION]["records"] == runs[TEST]["records"] == ["data-api"]
    assert runs[PRODUCTION]["no_platform_record"] == runs[TEST]["no_platform_record"] == []
    day = datetime.now(ZONE).date().isoformat()
    covered = server.rows("SELECT project_id FROM platform_coverage WHERE source = 'data-api' AND day = ?", day)
    assert sorted(r["project_id"] for r in covered) == [PRODUCTION, TEST]
    operations = server.rows(
        "SELECT operation_id, project_id FROM platform_operations WHERE operation_id IN ('9001', '9002')"
    )
    assert sorted(tuple(r) for r in operations) == [("9001", PRODUCTION), ("9002", TEST)]
    assert money_state(server, paid) == before  # nothing moved
