"""The suite's own shape (#18): shared helpers live in ``tests/support``, never in another
test file, and tests wait on conditions, never for a fixed time."""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent
# pause(0.2), sleep(1.5): a wait for a time. pause() (the messages drained) and sleep(0)
# (the loop runs once) wait for no time; tests/support's helpers poll a condition.
FIXED_WAIT = re.compile(r"\b(?:pause|sleep)\(\s*(?:\d*\.\d*[1-9]|[1-9]\d*(?:\.\d*)?)\s*\)")


def _test_files() -> list[Path]:
    return sorted(TESTS.glob("test_*.py"))


def test_no_test_file_imports_from_another() -> None:
    offenders = [
        f"{path.name}:{n}"
        for path in _test_files()
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"\b(?:from|import)\s+tests\.test_", line)
    ]
    assert not offenders, offenders


def test_no_test_waits_a_fixed_time() -> None:
    offenders = [
        f"{path.name}:{n}: {line.strip()}"
        for path in _test_files()
        if path.name != Path(__file__).name
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if FIXED_WAIT.search(line)
    ]
    assert not offenders, offenders


def test_the_patterns_catch_what_they_mean() -> None:
    assert FIXED_WAIT.search("await pilot.pause(0.2)") and FIXED_WAIT.search("time.sleep(1)")
    assert FIXED_WAIT.search("await asyncio.sleep(2.5)")
    assert not FIXED_WAIT.search("await pilot.pause()") and not FIXED_WAIT.search("await asyncio.sleep(0)")
    assert not FIXED_WAIT.search("await asyncio.sleep(self.delay)")
