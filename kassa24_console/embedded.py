"""The console's listener in a process of its own, which the console supervises.

The console and its listener used to share one asyncio loop: every redraw of the screen
was time the platform waited for ``verify`` (seconds under load, issue 24). A thread with
its own loop was tried first: the loops no longer waited for each other, but they still
took turns at the interpreter (the GIL), and under load with a busy machine verify p99
stayed in the seconds (README, Benchmarks). So the listener's whole runtime (its store,
writer, service and uvicorn) runs in a child Python process; the console
reads the database through a store of its own, as ``--attach`` does, and asks the child to
open, start, stop and close over a pipe. The child never writes to the terminal (its
output goes to the log file or nowhere) and ends when the console's end of the pipe closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
import threading
from multiprocessing.connection import Connection
from typing import Any

from . import alerts, i18n
from .config import Settings
from .errors import StartupError
from .listener import ListenError
from .logs import configure_logging, stop_logging
from .runtime import Runtime, run_loop

ANSWER_TIMEOUT = 120.0  # seconds a command may take (stop waits for in-flight requests)
_ERRORS: dict[str, type[Exception]] = {"startup": StartupError, "listen": ListenError}


class EmbeddedListener:
    """The child process running one project's :class:`Runtime`, seen from the console."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._process: Any = None
        self._pipe: Connection | None = None
        self._lock = threading.Lock()  # one question at a time on the pipe
        self._port: int | None = None
        self.opened = False
        self.listening = False

    @property
    def listener(self) -> EmbeddedListener:
        """``app.runtime.listener`` still answers ``port`` and ``in_flight`` (tests, callers
        written when the listener lived in the console's process)."""
        return self

    @property
    def runtime(self) -> EmbeddedListener | None:
        return self if self.opened else None

    @property
    def port(self) -> int:
        return self._port if self._port is not None else self.settings.port

    @property
    def in_flight(self) -> int:
        """Requests the listener is answering right now (asked of the child: a round trip)."""
        if not self.alive:
            return 0
        try:
            return int(self._ask("in_flight"))
        except (EOFError, OSError):
            return 0

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def running(self) -> bool:
        return self.listening and self.alive

    def _ask(self, *command: Any) -> Any:
        with self._lock:
            assert self._pipe is not None
            self._pipe.send(command)
            if not self._pipe.poll(ANSWER_TIMEOUT):
                raise StartupError(f"the listener process did not answer {command[0]!r}")
            kind, value = self._pipe.recv()
        if kind == "ok":
            return value
        raise _ERRORS.get(kind, RuntimeError)(value)

    async def _call(self, *command: Any) -> Any:
        return await asyncio.to_thread(self._ask, *command)

    async def open(self) -> None:
        """Start the child and open the runtime's store there (a fresh database in demo mode
        gets the demo data). :class:`~.errors.StartupError` says why it cannot."""
        if not self.alive:
            self._process, self._pipe = await asyncio.to_thread(_spawn, self.settings)
        try:
            await self._call("open")
        except (EOFError, OSError):
            raise StartupError("the listener process ended at start: see the log file") from None
        self.opened = True

    async def start(self) -> None:
        """Bind and serve; :class:`~.listener.ListenError` when the address cannot be used."""
        try:
            self._port = await self._call("start")
        except (EOFError, OSError):
            raise ListenError("the listener process ended: see the log file") from None
        self.listening = True

    async def speak(self, language: str) -> None:
        """The console's language switched: the alerts the child sends follow it."""
        if self.alive:
            with contextlib.suppress(EOFError, OSError, StartupError):
                await self._call("language", language)

    async def stop(self) -> None:
        """Stop accepting, let in-flight requests finish (bounded), free the port."""
        self.listening = False
        if self.alive:
            with contextlib.suppress(EOFError, OSError):
                await self._call("stop")

    async def close(self) -> None:
        """Stop after in-flight requests, commit what is queued, end the child."""
        self.listening = self.opened = False
        process, pipe = self._process, self._pipe
        self._process = self._pipe = None
        if process is None or pipe is None:
            return
        if process.poll() is None:
            self._process, self._pipe = process, pipe
            with contextlib.suppress(EOFError, OSError, StartupError):
                await self._call("close")
            self._process = self._pipe = None
        pipe.close()  # the child ends when its end of the pipe closes, whatever it was doing
        try:
            await asyncio.to_thread(process.wait, ANSWER_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()


def _spawn(settings: Settings) -> tuple[subprocess.Popen[bytes], Connection]:
    """The child, its output nowhere near the terminal, in a session of its own (a ctrl+c
    in the terminal is the console's to handle), talking over a socket pair."""
    ours, theirs = socket.socketpair()
    code = "import sys; from kassa24_console.embedded import child_main; child_main(int(sys.argv[1]))"
    process = subprocess.Popen(
        [sys.executable, "-c", code, str(theirs.fileno())],
        pass_fds=(theirs.fileno(),),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    theirs.close()
    pipe = Connection(ours.detach())
    pipe.send(settings)
    return process, pipe


def child_main(fd: int) -> None:
    """The child: settings from the pipe, then commands until the console closes it."""
    pipe = Connection(fd)
    settings: Settings = pipe.recv()
    if settings.language:  # what its alerts say, in the console's language
        i18n.set_language(settings.language)
    with contextlib.suppress(Exception):
        configure_logging(settings.log_file, stderr=False)
    try:
        run_loop(_serve_commands(pipe, settings))  # uvloop, as serve
    finally:
        stop_logging()


async def _serve_commands(pipe: Connection, settings: Settings) -> None:
    loop = asyncio.get_running_loop()
    commands: asyncio.Queue[tuple[Any, ...] | None] = asyncio.Queue()

    def read() -> None:  # a thread: the pipe blocks, the loop must not
        while True:
            try:
                command = pipe.recv()
            except (EOFError, OSError):  # the console is gone: shut down
                loop.call_soon_threadsafe(commands.put_nowait, None)
                return
            loop.call_soon_threadsafe(commands.put_nowait, command)

    threading.Thread(target=read, name="k24-commands", daemon=True).start()
    runtime: Runtime | None = None
    alerter: alerts.Alerter | None = None  # this process alerts, as serve does (it has the metrics)
    while (command := await commands.get()) is not None:
        name = command[0]
        if name == "in_flight":  # answered at once, whatever else is going on
            pipe.send(("ok", runtime.listener.in_flight if runtime is not None else 0))
            continue
        if name == "language":  # the console switched its language: so do the alerts sent here
            i18n.set_language(command[1])
            pipe.send(("ok", None))
            continue
        if name == "close" and alerter is not None:  # before the store it reads goes
            await alerter.close()
            alerter = None
        try:
            runtime, value = await _run(name, runtime, settings)
        except StartupError as error:
            pipe.send(("startup", str(error)))
        except ListenError as error:
            pipe.send(("listen", str(error)))
        except Exception as error:
            pipe.send(("error", f"{type(error).__name__}: {error}"))
        else:
            if name == "start" and alerter is None and runtime is not None:
                alerter = alerts.start(runtime)
            pipe.send(("ok", value))
        if name == "close":
            return
    if alerter is not None:
        await alerter.close()
    if runtime is not None:
        await runtime.close()


async def _run(name: str, runtime: Runtime | None, settings: Settings) -> tuple[Runtime | None, Any]:
    if name == "open":
        if runtime is None:
            runtime = Runtime(settings)
            await runtime.open(demo=True)
        return runtime, None
    if name == "close":
        if runtime is not None:
            await runtime.close()
        return None, None
    assert runtime is not None, f"{name} before open"
    if name == "start":
        await runtime.listener.start()
        runtime.start_pruning()
        return runtime, runtime.listener.port
    if name == "stop":
        await runtime.listener.stop()
        return runtime, None
    raise ValueError(f"unknown command {name}")
