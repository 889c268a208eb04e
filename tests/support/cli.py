"""The command line run in the test's own process: ``kassa24-console ARGS`` as the installed
entry point runs it (``commands.main.main``), with the environment, working directory and
standard streams it would have in a child process, and its exit code, output and errors
returned as ``subprocess.run`` returns them.

A child Python pays about 1 s of start-up and imports per command (seconds on a busy
machine); the tests of what a command prints and exits with do not need one. Tests where the
process itself matters (signals, workers, durability, a closed pipe, the installed entry
point, the interpreter's own environment) keep ``subprocess``.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import subprocess
import sys
import threading
import traceback
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from unittest import mock

from kassa24_console import i18n
from kassa24_console.commands.main import main
from kassa24_console.logs import stop_logging

_ONE_AT_A_TIME = threading.Lock()  # the environment, cwd and streams are the process's own


class _Stream(io.TextIOWrapper):
    """A pipe's end as a child would have it: text over bytes, not a terminal."""

    def __init__(self) -> None:
        super().__init__(io.BytesIO(), encoding="utf-8", errors="backslashreplace", write_through=True)

    def text(self) -> str:
        self.flush()
        buffer = self.buffer
        assert isinstance(buffer, io.BytesIO)
        return buffer.getvalue().decode("utf-8", errors="replace")


@contextlib.contextmanager
def _as_a_child(env: Mapping[str, str] | None, cwd: Path | str | None) -> Iterator[tuple[_Stream, _Stream]]:
    out, err = _Stream(), _Stream()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    language = i18n.current_language()
    before = os.getcwd()
    patched = mock.patch.dict(os.environ, dict(env), clear=True) if env is not None else contextlib.nullcontext()
    try:
        with patched, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            if cwd is not None:
                os.chdir(cwd)
            yield out, err
    finally:
        os.chdir(before)
        stop_logging()  # what the command queued is written, its handlers closed
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
                handler.close()
        for handler in handlers:
            if handler not in root.handlers:
                root.addHandler(handler)
        root.setLevel(level)
        i18n.set_language(language)


def _exit_code(code: Any) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)  # sys.exit("text"): Python prints it and exits 1
    return 1


def _main(args: list[str]) -> int:
    try:
        return _exit_code(main(args))
    except SystemExit as done:  # argparse's usage errors and --help
        return _exit_code(done.code)
    except Exception:  # what the interpreter would print: a test asserting none sees it
        traceback.print_exc()
        return 1


def run_cli(
    *args: str, env: Mapping[str, str] | None = None, cwd: Path | str | None = None, timeout: float = 120.0
) -> subprocess.CompletedProcess[str]:
    """``kassa24-console *args`` in this process; ``env`` replaces the environment as
    ``subprocess.run(env=...)`` does. It runs on a thread of its own (the command has event
    loops of its own, a test may have one running), given up after ``timeout`` seconds as a
    child process would be."""
    argv = [str(arg) for arg in args]
    with _ONE_AT_A_TIME, _as_a_child(env, cwd) as (out, err):
        result: list[int] = []
        thread = threading.Thread(target=lambda: result.append(_main(argv)), name="k24-cli", daemon=True)
        thread.start()
        thread.join(timeout)
        if not result:
            raise subprocess.TimeoutExpired(["kassa24-console", *argv], timeout)
        return subprocess.CompletedProcess(["kassa24-console", *argv], result[0], out.text(), err.text())


async def run_cli_async(
    *args: str, env: Mapping[str, str] | None = None, cwd: Path | str | None = None
) -> subprocess.CompletedProcess[str]:
    """``run_cli`` awaited: the test's loop runs on (a server it serves answers the command)."""
    return await asyncio.to_thread(run_cli, *args, env=env, cwd=cwd)
