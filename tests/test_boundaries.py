"""The core never imports textual, and findings sit below the service, the service below
reconciliation (import-linter contracts in pyproject.toml); only the commands parse arguments
and print (issue #18, "commands on top")."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import grimp

from tests.support.common import ROOT


def test_the_core_knows_nothing_of_the_terminal() -> None:
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint is not None, "import-linter is a test dependency"
    result = subprocess.run([lint], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " kept, 0 broken" in result.stdout
    for contract in (
        "The core knows nothing of the terminal",
        "Findings below the service",
        "Only the commands and the console parse arguments or print",
    ):
        assert contract in result.stdout  # each contract ran (and was kept)


def test_importing_the_core_does_not_load_textual() -> None:
    code = (
        "import sys, kassa24_console.service, kassa24_console.listener, kassa24_console.reconcile.engine, "
        "kassa24_console.simulate.catalog, kassa24_console.commands.main; print('textual' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "False", result.stderr


PACKAGE = ROOT / "kassa24_console"

# Where a front end may do what the rest of the package must not. The commands are the front
# ends (parse, call the core, print). The console draws its own screen with Textual, which
# draws with rich (rich.text.Text keeps untrusted text from being read as markup): rich, but
# neither argparse nor print (nothing prints to the terminal while the console runs).
ALLOWED = {
    "argparse": ("commands/",),
    "rich": ("commands/", "console/"),
    "print": ("commands/",),
}


def _is_print(called: ast.expr) -> bool:
    return isinstance(called, ast.Name) and called.id in ("print", "pprint")


def _writes_to_terminal(called: ast.expr) -> bool:
    """``sys.stdout.write(...)``, ``sys.stderr.writelines(...)``."""
    return (
        isinstance(called, ast.Attribute)
        and called.attr in ("write", "writelines")
        and isinstance(called.value, ast.Attribute)
        and called.value.attr in ("stdout", "stderr")
        and isinstance(called.value.value, ast.Name)
        and called.value.value.id == "sys"
    )


def _front_end_uses(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, what) for every argparse or rich import, print() call and write to sys.stdout or
    sys.stderr in one module."""
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        for name in names:
            top = name.partition(".")[0]
            if top in ("argparse", "rich"):
                found.append((node.lineno, top))
        if isinstance(node, ast.Call) and (_is_print(node.func) or _writes_to_terminal(node.func)):
            found.append((node.lineno, "print"))
    return found


def test_only_the_commands_parse_arguments_or_print() -> None:
    """Every argparse / rich front end lives in commands/; the core prints nothing and parses
    no arguments. import-linter sees imports; this walks every module's code, so that a new
    module is held to it too, and print() (no import at all) is seen."""
    offences = []
    modules = sorted(PACKAGE.rglob("*.py"))
    assert len(modules) > 100, "the whole package is walked"
    for path in modules:
        where = path.relative_to(PACKAGE).as_posix()
        for line, what in _front_end_uses(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if not where.startswith(ALLOWED[what]):
                offences.append(f"kassa24_console/{where}:{line}: {what}")
    assert offences == [], "front-end code outside commands/:\n" + "\n".join(offences)


def test_the_walk_sees_what_it_forbids() -> None:
    """The check above can fail: each form it looks for is found."""
    code = (
        "import argparse\nfrom rich.table import Table\nimport rich.console as c\n"
        "import sys\nprint('x')\nsys.stderr.write('y')\nsys.stdout.writelines([])\n"
        "from .i18n import _\nlog.write('not a terminal')\n"
    )
    assert _front_end_uses(ast.parse(code)) == [
        (1, "argparse"),
        (2, "rich"),
        (3, "rich"),
        (5, "print"),
        (6, "print"),
        (7, "print"),
    ]


def import_cycles(graph: Any) -> list[tuple[str, ...]]:
    """Every import ``a → b`` for which ``b`` leads back to ``a``, as the chain of the circle."""
    circles = []
    for module in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            back = graph.find_shortest_chain(importer=imported, imported=module)
            if back is not None:
                circles.append((module, *back))
    return circles


def test_no_circle_of_imports_except_under_type_checking() -> None:
    """Issue #18: the layers hold only if no two modules need each other at import time."""
    graph = grimp.build_graph("kassa24_console", exclude_type_checking_imports=True)
    assert import_cycles(graph) == []


def test_a_circle_of_imports_is_found() -> None:
    graph = grimp.ImportGraph()
    for module in ("k.a", "k.b", "k.c"):
        graph.add_module(module)
    graph.add_import(importer="k.a", imported="k.b")
    graph.add_import(importer="k.b", imported="k.c")
    assert import_cycles(graph) == []
    graph.add_import(importer="k.c", imported="k.a")
    assert ("k.a", "k.b", "k.c", "k.a") in import_cycles(graph)
