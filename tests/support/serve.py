"""A real ``kassa24-console serve`` process, for tests where the process itself matters
(signals, workers, durability, the CLI, TCP-level faults)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.common import LOCALE_VARIABLES, PROJECT_ID, SECRET, free_port
from tests.support.endpoint import Endpoint

# Start-up imports ~2 s of modules: on two busy cores it has taken over 20 s. The deadline
# is generous (a slow start is not a failure) and the polling fast (a quick one is not slowed).
HEALTH_DEADLINE = 120.0
STARTED: list[Path] = []  # every serve started by this process (tests count them)


def wait_healthy(url: str, proc: subprocess.Popen[bytes] | None = None, timeout: float = HEALTH_DEADLINE) -> None:
    deadline = time.monotonic() + timeout
    # One client for every look: ``httpx.get`` makes a client, and its TLS context, each
    # call (~30 ms of CPU): polling with it kept a core busy beside the starting serve.
    with httpx.Client(timeout=2) as client:
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"serve exited with {proc.returncode}")
            try:
                if client.get(f"{url}/healthz").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.02)
    raise RuntimeError(f"{url} did not become healthy in {timeout} s")


def serve_env(db_path: Path, port: int, **extra: str) -> dict[str, str]:
    # English unless a test asks for a language: the locale of the machine running the tests
    # must not decide what the English tests read.
    env = {k: v for k, v in os.environ.items() if not k.startswith("KASSA24_") and k not in LOCALE_VARIABLES}
    env.update(
        LANG="C.UTF-8",
        KASSA24_DATABASE_URL=f"sqlite:///{db_path}",
        KASSA24_PORT=str(port),
        KASSA24_SECRET_KEY=SECRET,
        KASSA24_PROJECT_ID=str(PROJECT_ID),
        KASSA24_LOG_FILE=str(db_path.with_suffix(".log")),
        KASSA24_TRAFFIC_FLUSH_INTERVAL="0.05",
    )
    env.update(extra)
    return env


@dataclass
class Server(Endpoint):
    """A running ``kassa24-console serve`` and what tests need to talk to it."""

    proc: subprocess.Popen[bytes] = field(kw_only=True)

    def __post_init__(self) -> None:
        self.http = httpx.Client(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        super().stop()


def start_serve(tmp: Path, option: int = 2, **extra_env: str) -> Server:
    port = free_port()
    db_path = tmp / "k24.db"
    env = serve_env(db_path, port, KASSA24_RESPONSE_OPTION=str(option), **extra_env)
    stderr = open(tmp / "serve.stderr", "ab")  # noqa: SIM115 - lives as long as the process
    STARTED.append(tmp)
    proc = subprocess.Popen(
        [sys.executable, "-m", "kassa24_console", "serve"], env=env, stdout=stderr, stderr=stderr, cwd=tmp
    )
    server = Server(f"http://127.0.0.1:{port}", db_path, option, env, proc=proc)
    try:
        wait_healthy(server.url, proc)
    except RuntimeError:
        server.stop()
        raise RuntimeError((tmp / "serve.stderr").read_text()) from None
    return server
