"""Reconciliation with two projects over serve's app and the real ``reconcile`` command:
a deposit paid in one project, report lines naming a project, the money facts to hold still."""

from __future__ import annotations

import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.support.bodies import callback_body, deposit_body
from tests.support.cli import run_cli
from tests.support.endpoint import Endpoint
from tests.support.projects import KEYS, PRODUCTION, SHARED, TEST, due_of, in_, post_as
from tests.support.reconciling import HEADER, ZONE

CONTRACT = f"C-{SHARED}"


def pay_in(server: Endpoint, project: int, amount: int, operation_id: int) -> str:
    issued = post_as(server, in_(project, deposit_body(SHARED, CONTRACT, amount)), KEYS[project]).json()
    payment_id = issued["payment_id"]
    body = in_(project, callback_body(payment_id, amount=amount, operation_id=operation_id))
    assert post_as(server, body, KEYS[project], "/kassa24/callback").json()["outcome"] == "applied"
    return payment_id


def line_of(operation: str, payment_id: str, project: int | str, amount: str) -> str:
    now = datetime.now(ZONE).strftime("%Y-%m-%d %H:%M:%S")
    return f"{operation};{payment_id};{project};sale;success;Kassa24;{amount};KZT;{SHARED};{now};{now}"


def report_of(tmp: Path, lines: list[str]) -> Path:
    path = tmp / "report.csv"
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    return path


def reconcile_cli(server: Endpoint, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("reconcile", *args, env=server.env)


def money_state(server: Endpoint, paid: dict[int, str]) -> list[Any]:
    """Every money fact the reconciliation must not move."""
    deposits = server.rows("SELECT payment_id, project_id, state, paid_amount FROM deposits ORDER BY payment_id")
    dues = [due_of(server, project, CONTRACT) for project in (PRODUCTION, TEST)]
    return [[tuple(row) for row in deposits], dues]
