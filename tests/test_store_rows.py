"""Typed rows follow the tables (kassa24_console/store/rows.py), and the type checker's
configuration covers the core the issue names (#18)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Table

from kassa24_console.store import alerts, changes, rows
from kassa24_console.store import queries as q

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("row", "table"),
    [
        (rows.AccountRow, q.accounts),
        (rows.ContractRow, q.contracts),
        (rows.DepositRow, q.deposits),
        (rows.AuditEntry, q.audit),
        (rows.TrafficRow, q.traffic),
        (rows.CallbackRow, q.callbacks),
        (rows.OperationRow, q.operations),
        (rows.MismatchRow, q.mismatches),
        (alerts.AlertRow, alerts.alerts),
        (alerts.DeliveryRow, alerts.deliveries),
    ],
    ids=lambda value: getattr(value, "__name__", getattr(value, "name", "")),
)
def test_a_typed_row_is_its_table_column_for_column(row: Any, table: Table) -> None:
    assert row._fields == tuple(table.c.keys())


@pytest.mark.parametrize(
    ("row", "table"),
    [
        (changes.MismatchState, q.mismatches),
        (changes.Exchange, q.traffic),
        (rows.TrafficLine, q.traffic),
        (rows.CallbackLine, q.callbacks),
        (alerts.OverdueDeposit, q.deposits),
        (alerts.NewFinding, q.mismatches),
    ],
    ids=lambda value: getattr(value, "__name__", getattr(value, "name", "")),
)
def test_a_rows_fields_are_columns_of_its_table(row: Any, table: Table) -> None:
    assert set(row._fields) <= set(table.c.keys())


def test_mypy_checks_the_core_and_ci_runs_it() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    files = set(config["tool"]["mypy"]["files"])
    for part in ("protocol", "store", "service.py", "callbacks.py", "findings.py", "reconcile", "edits.py"):
        assert f"kassa24_console/{part}" in files
    assert any(dep.startswith("mypy") for dep in config["project"]["optional-dependencies"]["test"])
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    commands = [line.split("#")[0].strip() for line in ci]
    assert commands.index(".venv/bin/mypy") == commands.index(".venv/bin/lint-imports") + 1


def test_every_type_ignore_in_the_package_names_its_error_and_why() -> None:
    """An ignore names the error it silences and says why, on its line or the comment above."""
    unexplained = []
    for path in sorted((ROOT / "kassa24_console").rglob("*.py")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for n, line in enumerate(lines):
            if "type: ignore" not in line:
                continue
            coded = re.search(r"# type: ignore\[[a-z-]+(?:, [a-z-]+)*\](.*)$", line)
            reason = coded is not None and (coded[1].strip().startswith("#") or lines[n - 1].strip().startswith("#"))
            if not reason:
                unexplained.append(f"{path.relative_to(ROOT)}:{n + 1}")
    assert not unexplained, unexplained
