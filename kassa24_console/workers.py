"""``serve`` on several cores: listener processes sharing one socket.

One Python process answers on one core at a time; the machine's other cores can answer
too. The parent prepares the database (schema, demo data) and reserves the port, then
forks the workers; each listens on the port itself (``SO_REUSEPORT``: the kernel spreads
new connections over them evenly). Each worker is an ordinary ``serve``: its own store,
writer and log file; the database orders their commits and keeps them correct (unique
payment ids, credit once: DESIGN.md "Beyond one machine"). The parent forwards
SIGTERM/SIGINT and exits when they all have, with the worst exit status.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from .config import Settings
from .listener import bind

Serve = Callable[[Settings], int]


def worker_log_file(log_file: Path | None, worker: int) -> Path | None:
    """Worker 0 logs where one process would; the others beside it (``kassa24.w1.log``),
    so no two processes rotate one file."""
    if log_file is None or worker == 0:
        return log_file
    return log_file.with_name(f"{log_file.stem}.w{worker}{log_file.suffix}")


def run(settings: Settings, serve: Serve) -> int:
    """Fork ``settings.workers`` processes running ``serve(settings_for_worker)`` on one
    port; wait for them all. The caller has prepared the database; :class:`ListenError`
    when the port cannot be had."""
    # First as one process would: a port another program (or another serve with workers,
    # which would otherwise join ours) listens on is refused, not shared.
    probe = bind(settings.host, settings.port)
    port = probe.getsockname()[1]
    probe.close()
    reserved = bind(settings.host, port, reuse_port=True)  # held, not listening: gets no connections
    children: list[int] = []
    try:
        for worker in range(settings.workers):
            own = settings.model_copy(update={"port": port, "log_file": worker_log_file(settings.log_file, worker)})
            pid = os.fork()
            if pid == 0:  # the worker: never returns into the parent's code
                code = 1
                try:
                    reserved.close()
                    code = serve(own)
                finally:
                    sys.stdout.flush()
                    sys.stderr.flush()
                    os._exit(code)
            children.append(pid)
        return _wait(children)
    finally:
        reserved.close()


def _wait(children: list[int]) -> int:
    def forward(signum: int, _frame: object) -> None:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, forward)
    worst = 0
    waiting = set(children)
    while waiting:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        waiting.discard(pid)
        worst = max(worst, os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 1)
    return worst
