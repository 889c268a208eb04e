"""Reconciliation per project, over real HTTP to a real ``serve`` with two projects and the
real ``reconcile`` command: each operation of the report goes to its project (its project
column); money, findings, coverage, sign-off and the act stay inside their project."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest

from tests.support.projects import PRODUCTION, PROJECTS, TEST, seed_projects
from tests.support.reconcile_projects import line_of, money_state, pay_in, reconcile_cli, report_of
from tests.support.serve import Server, start_serve


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp: Path = tmp_path_factory.mktemp("reconcile_projects")
    srv = start_serve(tmp, 2, KASSA24_PROJECTS=json.dumps(PROJECTS[:2]))
    seed_projects(srv.db_url)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def paid(server: Server) -> dict[int, str]:
    """One paid deposit in each project, for the same customer id and contract id."""
    return {PRODUCTION: pay_in(server, PRODUCTION, 150_000, 71), TEST: pay_in(server, TEST, 20_000, 72)}


def test_an_operation_of_a_project_we_do_not_have_is_refused_with_its_line(
    server: Server, paid: dict[int, str], tmp_path: Path
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


def test_a_two_project_report_is_reconciled_per_project(server: Server, paid: dict[int, str], tmp_path: Path) -> None:
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


def test_sign_off_and_the_act_need_a_project_when_there_are_several(server: Server, paid: dict[int, str]) -> None:
    for args in (["--sign-off"], ["--act", "act.xlsx"], ["--export", "rows.csv"]):
        done = reconcile_cli(server, *args)
        assert done.returncode == 2 and "--project" in done.stderr and "Traceback" not in done.stderr, args
    done = reconcile_cli(server, "--project", "5555")
    assert done.returncode == 2 and "5555" in done.stderr
    assert server.rows("SELECT count(*) AS n FROM periods")[0]["n"] == 0


def test_sign_off_of_one_project_leaves_the_other_open_and_the_act_is_the_projects(
    server: Server, paid: dict[int, str], tmp_path: Path
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
