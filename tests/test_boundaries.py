"""The core never imports textual, and findings sit below the service, the service below
reconciliation (import-linter contracts in pyproject.toml)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.common import ROOT


def test_the_core_knows_nothing_of_the_terminal() -> None:
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint is not None, "import-linter is a test dependency"
    result = subprocess.run([lint], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " kept, 0 broken" in result.stdout
    for contract in ("The core knows nothing of the terminal", "Findings below the service"):
        assert contract in result.stdout  # each contract ran (and was kept)


def test_importing_the_core_does_not_load_textual() -> None:
    code = (
        "import sys, kassa24_console.service, kassa24_console.listener, kassa24_console.reconcile.engine, "
        "kassa24_console.simulate.catalog, kassa24_console.commands.main; print('textual' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "False", result.stderr
