"""Several projects in one install, over real HTTP to a real ``serve`` process: each request
routed by its project and checked with that project's key; customers, keys and money stay
inside their project; the previous key works until its end and not after."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.bodies import callback_body, deposit_body, verify_body
from tests.support.cli import run_cli
from tests.support.endpoint import Endpoint
from tests.support.projects import (
    KEYS,
    ONLY_TEST,
    PREVIOUS,
    PRODUCTION,
    PROJECTS,
    ROTATED,
    SHARED,
    TEST,
    due_of,
    in_,
    post_as,
    seed_projects,
)
from tests.support.serve import Server, start_serve
from tests.support.waiting import wait_for


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A serve process configured with the projects: the requests go over TCP, as the
    platform's do, and the simulator's command line plays against it."""
    tmp: Path = tmp_path_factory.mktemp("projects-served")
    srv = start_serve(tmp, 2, KASSA24_PROJECTS=json.dumps(PROJECTS))
    seed_projects(srv.db_url)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def projects(served: Server) -> Server:
    """The same serve process for the protocol's rules (issue #20: "tests over real HTTP"):
    the tests below compare dues before and after, never against a fresh database."""
    return served


def test_each_project_finds_its_own_customers_only(projects: Server) -> None:
    production = post_as(projects, in_(PRODUCTION, verify_body(SHARED)), KEYS[PRODUCTION]).json()
    test = post_as(projects, in_(TEST, verify_body(SHARED)), KEYS[TEST]).json()
    assert production["code"] == 0 and test["code"] == 0
    assert [(e["number"], e["payment"]) for e in production["entities"]] == [(f"N-{PRODUCTION}", 900_000)]
    assert [(e["number"], e["payment"]) for e in test["entities"]] == [(f"N-{TEST}", 300_000)]
    # A customer of the test project does not exist for production.
    assert post_as(projects, in_(PRODUCTION, verify_body(ONLY_TEST)), KEYS[PRODUCTION]).json()["code"] == 404
    assert post_as(projects, in_(TEST, verify_body(ONLY_TEST)), KEYS[TEST]).json()["code"] == 0


def test_each_key_signs_only_its_project(projects: Server) -> None:
    for project, key in ((PRODUCTION, KEYS[TEST]), (TEST, KEYS[PRODUCTION]), (TEST, PREVIOUS[PRODUCTION])):
        assert post_as(projects, in_(project, verify_body(SHARED)), key).json()["code"] == 400, (project, key)


def test_the_previous_key_is_accepted_until_its_end_and_refused_after(projects: Server) -> None:
    before = post_as(
        projects, in_(PRODUCTION, verify_body(SHARED, note="signed-by-an-old-key")), PREVIOUS[PRODUCTION]
    ).json()
    assert before["code"] == 0
    after = post_as(projects, in_(ROTATED, verify_body(SHARED, note="signed-by-an-old-key")), PREVIOUS[ROTATED]).json()
    assert after["code"] == 400
    assert (
        post_as(projects, in_(ROTATED, verify_body(SHARED, note="signed-by-a-new-key")), KEYS[ROTATED]).json()["code"]
        == 404
    )
    old = (
        "SELECT project_id, key_used FROM traffic WHERE key_used IS NOT NULL AND request LIKE '%signed-by-an-old-key%'"
    )
    assert [(r["project_id"], r["key_used"]) for r in _traffic_until(projects, old, 1)] == [(PRODUCTION, "previous")]
    current = _traffic_until(projects, "SELECT key_used FROM traffic WHERE request LIKE '%signed-by-a-new-key%'", 1)
    assert [r["key_used"] for r in current] == ["current"]


def _traffic_until(server: Endpoint, sql: str, count: int) -> list[Any]:
    """Traffic is written off the request path: wait (bounded) until the rows are there."""
    return wait_for(lambda: len(rows := server.rows(sql)) >= count and rows, 30, f"{count} traffic rows")


def test_an_unknown_project_is_refused(projects: Server) -> None:
    signed_by_ours = post_as(projects, in_(9999, verify_body(SHARED)), KEYS[PRODUCTION]).json()
    assert signed_by_ours["code"] == 500 and "project_id" in signed_by_ours["message"]
    assert post_as(projects, in_(9999, verify_body(SHARED)), "someone-elses-key-01234").json()["code"] == 400


def test_a_callback_claiming_another_project_credits_nothing_and_opens_a_finding(projects: Server) -> None:
    contract = f"C-{SHARED}"
    due = due_of(projects, PRODUCTION, contract)
    issued = post_as(projects, in_(PRODUCTION, deposit_body(SHARED, contract, 100_000)), KEYS[PRODUCTION]).json()
    payment_id = issued["payment_id"]
    claim = in_(TEST, callback_body(payment_id, amount=100_000))
    answer = post_as(projects, claim, KEYS[TEST], path="/kassa24/callback")
    assert answer.status_code == 200 and answer.json()["outcome"] == "wrong_project"  # the platform stops retrying
    assert due_of(projects, PRODUCTION, contract) == due and due_of(projects, TEST, contract) == 300_000
    deposit = projects.rows("SELECT state, project_id FROM deposits WHERE payment_id = ?", payment_id)[0]
    assert (deposit["state"], deposit["project_id"]) == ("pending", PRODUCTION)
    found = projects.rows("SELECT kind, project_id, evidence FROM mismatches WHERE payment_id = ?", payment_id)
    assert [(f["kind"], f["project_id"]) for f in found] == [("wrong_project", PRODUCTION)]
    assert json.loads(found[0]["evidence"])["callback_project"] == TEST
    # The right project's callback still credits it.
    right = post_as(
        projects,
        in_(PRODUCTION, callback_body(payment_id, amount=100_000)),
        KEYS[PRODUCTION],
        "/kassa24/callback",
    )
    assert right.json()["outcome"] == "applied" and due_of(projects, PRODUCTION, contract) == due - 100_000


def test_the_test_projects_payments_never_change_production_dues(projects: Server) -> None:
    contract = f"C-{SHARED}"
    production_due, test_due = due_of(projects, PRODUCTION, contract), due_of(projects, TEST, contract)
    issued = post_as(projects, in_(TEST, deposit_body(SHARED, contract, 50_000)), KEYS[TEST]).json()
    answer = post_as(
        projects, in_(TEST, callback_body(issued["payment_id"], amount=50_000)), KEYS[TEST], "/kassa24/callback"
    )
    assert answer.json()["outcome"] == "applied"
    assert due_of(projects, TEST, contract) == test_due - 50_000
    assert due_of(projects, PRODUCTION, contract) == production_due
    audit = projects.rows("SELECT project_id FROM audit WHERE cause = ? AND kind = 'payment'", issued["payment_id"])
    assert [row["project_id"] for row in audit] == [TEST]


def test_the_simulator_plays_one_project_with_its_key_and_replays_with_the_records(served: Server) -> None:
    """``simulate --project-id`` signs with that project's key and seeds its accounts into
    that project; ``simulate replay --set`` re-signs with the key of the record's project."""

    env = {**served.env, "KASSA24_LOG_FILE": "/dev/null"}
    base = ["simulate", "--url", f"{served.url}/kassa24"]
    played = run_cli(
        *base, "--project-id", str(TEST), "--seed-database", served.db_url, "happy_path", "unknown_account", env=env
    )
    assert played.returncode == 0, played.stdout + played.stderr
    seeded = served.rows("SELECT DISTINCT project_id FROM accounts WHERE customer_id LIKE 'sim-%'")
    assert [row["project_id"] for row in seeded] == [TEST]
    assert KEYS[TEST] not in played.stdout + played.stderr
    issued = post_as(served, in_(TEST, verify_body(ONLY_TEST, note="replay-me")), KEYS[TEST]).json()
    assert issued["code"] == 0
    rows = _traffic_until(served, "SELECT id FROM traffic WHERE request LIKE '%replay-me%'", 1)
    replay = ["simulate", "replay", str(rows[0]["id"])]
    again = run_cli(*replay, "--url", f"{served.url}/kassa24", "--set", "note=replayed", env=env)
    assert again.returncode == 0 and '"code": 0' in again.stdout, again.stdout + again.stderr


@pytest.mark.parametrize("project", [PRODUCTION, TEST])
def test_conformance_runs_per_project_with_its_key_and_its_customers(served: Server, project: int) -> None:
    """Every scenario, the spec's and the conformance ones, passes for each project of a
    several-project install: ``simulate --project ID --seed-database URL`` signs with that
    project's key and seeds that project's customers, never the other's."""

    from kassa24_console.simulate.catalog import SCENARIOS

    def simulated() -> dict[int, int]:
        rows = served.rows("SELECT project_id, COUNT(*) AS n FROM accounts WHERE customer_id LIKE 'sim-%' GROUP BY 1")
        return {row["project_id"]: row["n"] for row in rows}

    before = simulated()
    env = {**served.env, "KASSA24_LOG_FILE": "/dev/null"}
    command = ["simulate", "--url", f"{served.url}/kassa24"]
    played = run_cli(*command, "--project", str(project), "--seed-database", served.db_url, "--json", env=env)
    assert played.returncode == 0, played.stdout + played.stderr
    report = json.loads(played.stdout)
    assert [s["name"] for s in report["scenarios"] if s["status"] != "PASS"] == []
    assert report["passed"] == len(SCENARIOS) and "wrong_project_id" in [s["name"] for s in report["scenarios"]]
    after = simulated()
    other = TEST if project == PRODUCTION else PRODUCTION
    assert after.get(project, 0) - before.get(project, 0) == 23  # payable, nothing due, blocked, 20 for load
    assert after.get(other, 0) == before.get(other, 0)
    assert all(key not in played.stdout + played.stderr for key in KEYS.values())


def test_the_simulator_refuses_a_project_that_is_not_configured(served: Server) -> None:
    """With several projects, naming one that is not configured (and no key file) is a
    one-line error, not a run signed with some other project's key."""

    command = ["simulate", "--url", f"{served.url}/kassa24"]
    played = run_cli(*command, "--project", "9999", "happy_path", env=served.env)
    assert played.returncode == 2
    assert played.stderr.strip().splitlines() == [
        "simulate: project 9999 is not configured (configured: 4242, 4343, 4444): name one of them, "
        "or give its key with --secret-key-file FILE"
    ]
    assert "Traceback" not in played.stderr and played.stdout == ""


def test_the_simulator_plays_each_project_in_its_own_response_option(tmp_path: Path) -> None:
    """Production answers in option 2 and the test project in option 1: ``simulate --project``
    expects each project's own (a verify with nothing due is code 204 in option 2, 0 in 1)."""

    projects = [PROJECTS[0], {**PROJECTS[1], "response_option": 1}]
    srv = start_serve(tmp_path, 2, KASSA24_PROJECTS=json.dumps(projects))
    try:
        env = {**srv.env, "KASSA24_LOG_FILE": "/dev/null"}
        command = ["simulate", "--url", f"{srv.url}/kassa24"]
        for project in (PRODUCTION, TEST):
            played = run_cli(
                *command, "--project", str(project), "--seed-database", srv.db_url, "--json", "nothing_due", env=env
            )
            assert played.returncode == 0, (project, played.stdout + played.stderr)
            assert json.loads(played.stdout)["passed"] == 1
    finally:
        srv.stop()
