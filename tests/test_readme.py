"""The README is true: its shell sessions are run as written and every line they show is
compared with what the commands print.

A session is a fenced block whose lines start with ``$ ``: each command runs (from a fresh
directory holding the files the section shows and a link to ``data/``), and the lines
after it are its output; a line ``…`` stands for lines left out. ``export NAME=VALUE`` sets
the environment of the commands after it. Sample files are blocks right after a line
naming them (`` `accounts.csv`: ``).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.common import ROOT

README = ROOT / "README.md"
PROGRAM = ".venv/bin/kassa24-console"


def section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def blocks(text: str) -> list[tuple[str, str]]:
    """(the line before it, content) of each fenced block."""
    found = []
    for match in re.finditer(r"(?m)^([^\n]*)\n```[a-z]*\n(.*?)^```$", text, flags=re.S):
        found.append((match.group(1).strip(), match.group(2)))
    return found


def commands(block: str) -> list[tuple[str, list[str]]]:
    """(command, the lines it shows) in order; continuation lines joined."""
    steps: list[tuple[str, list[str]]] = []
    lines = block.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not line.startswith("$ "):
            assert steps, f"output before any command: {line!r}"
            steps[-1][1].append(line)
            continue
        command = line[2:]
        while command.endswith("\\"):
            command = command[:-1] + " " + lines[index].strip()
            index += 1
        steps.append((command, []))
    return steps


def matches(shown: list[str], printed: list[str]) -> bool:
    """Every run of shown lines (between ``…``) appears whole and in order in ``printed``."""
    runs: list[list[str]] = [[]]
    for line in shown:
        if line.strip() == "…":
            runs.append([])
        else:
            runs[-1].append(line.rstrip())
    position = 0
    for run in runs:
        if not run:
            continue
        for start in range(position, len(printed) - len(run) + 1):
            if printed[start : start + len(run)] == run:
                position = start + len(run)
                break
        else:
            return False
    return True


def run_section(title: str, tmp_path: Path) -> int:
    """Run every session of a README section; how many commands ran."""
    text = section(title)
    (tmp_path / "data").symlink_to(ROOT / "data")
    env = {"PATH": os.environ["PATH"], "KASSA24_LOG_FILE": str(tmp_path / "log"), "HOME": str(tmp_path)}
    ran = 0
    for before, content in blocks(text):
        if named := re.fullmatch(r"`([\w.-]+)`:", before):
            (tmp_path / named.group(1)).write_text(content, encoding="utf-8")
            continue
        if not content.startswith("$ "):
            continue
        for command, shown in commands(content):
            words = shlex.split(command, comments=True)
            if words[0] == "export":
                name, value = words[1].split("=", 1)
                env[name] = value
                continue
            assert words[0] == PROGRAM, f"every command has the same prefix: {command}"
            result = subprocess.run(
                [sys.executable, "-m", "kassa24_console", *words[1:]],
                env=env,
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=120,
            )
            printed = [line.rstrip() for line in (result.stdout + "\n" + result.stderr).splitlines()]
            assert matches(shown, printed), (
                f"$ {command}\nshown:\n" + "\n".join(shown) + "\nprinted:\n" + "\n".join(printed)
            )
            ran += 1
    return ran


def test_the_readmes_reconciliation_session_prints_what_it_shows(tmp_path: Path) -> None:
    assert run_section("Reconciliation", tmp_path) >= 10


def test_the_readmes_import_samples_import_as_shown(tmp_path: Path) -> None:
    assert run_section("Import", tmp_path) >= 3
    assert {p.name for p in tmp_path.iterdir()} >= {"customers.json", "accounts.csv", "contracts.csv"}


def test_the_comparison_catches_a_line_that_is_not_printed() -> None:
    assert matches(["a", "…", "c"], ["a", "b", "c"])
    assert not matches(["a", "c"], ["a", "b", "c"])  # without … the lines must follow each other
    assert not matches(["c", "…", "a"], ["a", "b", "c"])


@pytest.mark.parametrize("title", ["Try an integration with the simulator", "Reconciliation", "History", "Import"])
def test_every_command_in_the_readme_has_the_same_prefix(title: str) -> None:
    for _, content in blocks(section(title)):
        for line in content.splitlines():
            stripped = line.removeprefix("$ ").strip()
            if stripped.startswith("kassa24-console"):
                pytest.fail(f"{title}: {line!r} lacks the .venv/bin/ prefix")
