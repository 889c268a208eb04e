"""``serve`` on several cores: listener processes sharing one socket.

One Python process answers on one core at a time; the machine's other cores can answer
too. The parent prepares the database (schema, demo data) and reserves the port, then
forks the workers; each listens on the port itself (``SO_REUSEPORT``: the kernel spreads
new connections over them evenly). Each worker is an ordinary ``serve``: its own store,
writer and log file; the database orders their commits and keeps them correct (unique
payment ids, credit once: DESIGN.md "Beyond one machine"). The parent forwards
SIGTERM/SIGINT and exits when they all have, with the worst exit status.

The parent supervises: a worker that dies while no stop was asked for (killed, crashed) is
logged with its cause and replaced by a new one on the same port, after a pause that grows
if it keeps dying (1 s, 2 s, … 30 s); :mod:`.census` tells every worker's ``/healthz`` and
``/metrics`` how many run meanwhile.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

from . import census
from .config import Settings
from .listener import bind
from .logs import JsonFormatter

log = logging.getLogger(__name__)

Serve = Callable[[Settings], int]


def worker_log_file(log_file: Path | None, worker: int) -> Path | None:
    """Worker 0 logs where one process would; the others beside it (``kassa24.w1.log``),
    so no two processes rotate one file."""
    if log_file is None or worker == 0:
        return log_file
    return log_file.with_name(f"{log_file.stem}.w{worker}{log_file.suffix}")


def run(settings: Settings, serve: Serve) -> int:
    """Fork ``settings.workers`` processes running ``serve(settings_for_worker)`` on one
    port; replace any that dies unasked; wait for them all once stopped. The caller has
    prepared the database; :class:`ListenError` when the port cannot be had."""
    # First as one process would: a port another program (or another serve with workers,
    # which would otherwise join ours) listens on is refused, not shared.
    probe = bind(settings.host, settings.port)
    port = probe.getsockname()[1]
    probe.close()
    reserved = bind(settings.host, port, reuse_port=True)  # held, not listening: gets no connections
    census.share(settings.workers)
    _supervisor_log()

    def start(worker: int) -> int:
        own = settings.model_copy(update={"port": port, "log_file": worker_log_file(settings.log_file, worker)})
        pid = os.fork()
        if pid == 0:  # the worker: never returns into the parent's code
            code = 1
            try:
                reserved.close()
                for signum in (signal.SIGTERM, signal.SIGINT):
                    signal.signal(signum, signal.SIG_DFL)
                code = serve(own)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        return pid

    try:
        return _Supervisor(settings.workers, start).run()
    finally:
        reserved.close()


def _supervisor_log() -> None:
    """The parent's own lines (a worker died, was replaced) go to stderr, synchronously:
    no logging thread in a process that forks."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def cause(status: int) -> str:
    """A wait status in words: ``killed by SIGKILL``, ``exited with status 3``."""
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        try:
            name = signal.Signals(signum).name
        except ValueError:
            name = str(signum)
        return f"killed by {name}"
    return f"exited with status {os.waitstatus_to_exitcode(status)}"


class _Supervisor:
    MAX_PAUSE = 30.0

    def __init__(self, count: int, start: Callable[[int], int]) -> None:
        self.count = count
        self.start = start
        self.workers: dict[int, int] = {}  # pid → worker index
        self.stopping = False
        self.deaths: dict[int, int] = {}  # worker index → deaths in a row
        self.since: dict[int, float] = {}  # worker index → when it last started

    def forward(self, signum: int, _frame: object) -> None:
        self.stopping = True
        for pid in list(self.workers):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    def run(self) -> int:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self.forward)
        for index in range(self.count):
            self.workers[self.start(index)] = index
            self.since[index] = time.monotonic()
        worst = 0
        while self.workers:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            worker = self.workers.pop(pid, None)
            if worker is None:
                continue
            if self.stopping:
                worst = max(worst, self.stop_code(status))
                continue
            self.replace(worker, pid, status)
        return worst

    @staticmethod
    def stop_code(status: int) -> int:
        """A stopped worker's share of the exit status. One still starting (a replacement
        importing on a busy machine) has not yet installed its handlers, so the signal we
        forwarded ends it as a signal does: that is the stop we asked for, not a failure."""
        if os.WIFSIGNALED(status):
            return 0 if os.WTERMSIG(status) in (signal.SIGTERM, signal.SIGINT) else 1
        return os.waitstatus_to_exitcode(status)

    def replace(self, worker: int, pid: int, status: int) -> None:
        census.set_running(len(self.workers), self.count)
        lived = time.monotonic() - self.since.get(worker, 0.0)
        deaths = self.deaths[worker] = 1 if lived > 60 else self.deaths.get(worker, 0) + 1
        pause = min(self.MAX_PAUSE, 2.0 ** (deaths - 1)) if deaths > 1 else 0.0
        log.error("worker %d (pid %d) %s; starting another in %.0f s", worker, pid, cause(status), pause)
        deadline = time.monotonic() + pause
        while not self.stopping and time.monotonic() < deadline:
            time.sleep(0.1)
        if self.stopping:
            return
        new = self.start(worker)
        self.workers[new] = worker
        self.since[worker] = time.monotonic()
        census.set_running(len(self.workers), self.count)
        log.info("worker %d runs again (pid %d)", worker, new)
