"""The README is true: its shell sessions are run as written and every line they show is
compared with what the commands print.

A session is a fenced block whose lines start with ``$ ``: each command runs (from a fresh
directory holding the files the section shows and a link to ``data/``), and the lines
after it are its output; a line ``…`` stands for lines left out. ``export NAME=VALUE`` sets
the environment of the commands after it. Sample files are blocks right after a line
naming them (`` `accounts.csv`: ``), written as an editor writes them (mode 644); ``chmod
MODE FILE`` changes a file's mode. A shown line ending in `` …`` stands for a printed line that
begins with the rest (a time of day). A command ending in `` &`` keeps running in the
background, until the section ends, and the next command runs once it answers
``/healthz``; its port, the README's 8080, is a free one (commands' ``:8080/`` too), so the
test never collides with a listener on this machine.
"""

from __future__ import annotations

import os
import re
import shlex
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.cli import run_cli
from tests.support.common import ROOT, free_port
from tests.support.serve import wait_healthy
from tests.support.waiting import wait_for

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
            if all(_same(line, p) for line, p in zip(run, printed[start : start + len(run)], strict=True)):
                position = start + len(run)
                break
        else:
            return False
    return True


def _same(shown: str, printed: str) -> bool:
    """A shown line is the printed one, or (ending in `` …``) the start of it."""
    if shown.endswith(" …"):
        return printed.startswith(shown[:-1])
    return shown == printed


def run_section(title: str, tmp_path: Path) -> int:
    """Run every session of a README section; how many commands ran."""
    text = section(title)
    (tmp_path / "data").symlink_to(ROOT / "data")
    port = free_port()
    env = {"PATH": os.environ["PATH"], "KASSA24_LOG_FILE": str(tmp_path / "log"), "HOME": str(tmp_path)}
    env["KASSA24_PORT"] = str(port)
    background: list[subprocess.Popen[bytes]] = []
    ran = 0
    try:
        for before, content in blocks(text):
            if named := re.fullmatch(r"`([\w.-]+)`:", before):
                (tmp_path / named.group(1)).write_text(content, encoding="utf-8")
                (tmp_path / named.group(1)).chmod(0o644)
                continue
            if not content.startswith("$ "):
                continue
            for command, shown in commands(content):
                ran += _run(command, shown, env, tmp_path, port, background)
    finally:
        for process in background:
            process.terminate()
            process.wait(timeout=30)
    return ran


def _run(
    command: str, shown: list[str], env: dict[str, str], tmp: Path, port: int, background: list[subprocess.Popen[bytes]]
) -> int:
    """One command of a session, its printed lines compared with the shown ones; 1 if it ran."""
    words = shlex.split(command.replace(":8080/", f":{port}/"), comments=True)
    if words[0] == "export":
        name, value = words[1].split("=", 1)
        env[name] = value
        return 0
    if words[0] == "chmod":
        (tmp / words[2]).chmod(int(words[1], 8))
        return 0
    assert words[0] == PROGRAM, f"every command has the same prefix: {command}"
    if words[-1] == "&":
        log = tmp / f"background-{len(background)}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "kassa24_console", *words[1:-1]], env=env, cwd=tmp, stdout=out, stderr=out
            )
        background.append(process)
        try:
            wait_healthy(f"http://127.0.0.1:{port}", process)
        except RuntimeError as error:
            pytest.fail(f"{command}: {error}\n" + log.read_text(errors="replace"))
        return 1
    if background:  # the next command is typed after the listener has recorded what it answered
        wait_for(lambda: _recorded(port, tmp), what="the background listener's traffic record")
    result = run_cli(*words[1:], env=env, cwd=tmp)  # the command line in-process; serve (&) in its own
    printed = [line.rstrip() for line in (result.stdout + "\n" + result.stderr).splitlines()]
    assert matches(shown, printed), f"$ {command}\nshown:\n" + "\n".join(shown) + "\nprinted:\n" + "\n".join(printed)
    return 1


def _recorded(port: int, tmp: Path) -> bool:
    """Every request the background listener answered is in its traffic record, as it is by
    the time a person types the next command (the record is written every 0.2 s)."""
    metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    answered = sum(
        float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines() if line.startswith("kassa24_requests_total{")
    )
    stored = 0
    for database in tmp.glob("*.db"):
        with sqlite3.connect(database, timeout=10) as connection:
            stored += connection.execute("SELECT count(*) FROM traffic").fetchone()[0]
    return stored >= answered


def test_the_readmes_reconciliation_session_prints_what_it_shows(tmp_path: Path) -> None:
    assert run_section("Reconciliation", tmp_path) >= 10


def test_the_readmes_import_samples_import_as_shown(tmp_path: Path) -> None:
    assert run_section("Import", tmp_path) >= 3
    assert {p.name for p in tmp_path.iterdir()} >= {"customers.json", "accounts.csv", "contracts.csv"}


def test_the_readmes_several_projects_and_key_rotation_session_prints_what_it_shows(tmp_path: Path) -> None:
    assert run_section("Several projects and key rotation", tmp_path) >= 10


def test_the_comparison_catches_a_line_that_is_not_printed() -> None:
    assert matches(["a", "…", "c"], ["a", "b", "c"])
    assert matches(["last at …"], ["last at 14:02:07"]) and not matches(["last at …"], ["first at 14:02"])
    assert not matches(["a", "c"], ["a", "b", "c"])  # without … the lines must follow each other
    assert not matches(["c", "…", "a"], ["a", "b", "c"])


@pytest.mark.parametrize(
    "title",
    [
        "Try an integration with the simulator",
        "Reconciliation",
        "History",
        "Import",
        "Several projects and key rotation",
    ],
)
def test_every_command_in_the_readme_has_the_same_prefix(title: str) -> None:
    for _, content in blocks(section(title)):
        session = content.startswith("$ ")  # its other lines are what the commands print
        for line in content.splitlines():
            if session and not line.startswith("$ "):
                continue
            stripped = line.removeprefix("$ ").strip()
            if stripped.startswith("kassa24-console"):
                pytest.fail(f"{title}: {line!r} lacks the .venv/bin/ prefix")
