"""The console under load as its user sees it (issue 24).

The simulator offers payment cycles at a fixed rate (100/s: about 300 requests/s) to the
console's embedded listener, the console running in a real terminal (tmux, 120×40), while
keys are pressed through ``tmux send-keys`` (Contracts and Traffic in turn) and the time
until the screen shows the other pane is measured. Beside it the same load offered to a
headless ``serve``. Each with and without one core kept busy by another process.

``--source DIR`` runs the program from another checkout (the "before" of the README):
``git archive <commit> | tar -x -C DIR``. Usage::

    .venv/bin/python -m benchmarks.console_load [--rate 100] [--duration 30] [--source DIR]

``--only-console`` measures the console alone (no headless row unless ``--headless-too``, no
busy core: on a shared machine); ``--no-keys`` leaves it on the Traffic pane; ``--rate 0``
switches panes with no load; ``--trace FILE`` runs the console under
:mod:`benchmarks.console_trace` (key → switch → frame, slow callbacks) and summarizes it.

Beside the platform's view (the simulator's latencies) each run gives the listener's own
(``traffic.latency_us``, request in → answer out) and the CPU seconds of each process
(simulator, listener, console, tmux server, the key polling): a simulator short of CPU
reports its own queue as the listener's latency.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shlex
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import PROJECT_ID, ROOT, SECRET, free_port, stop, wait_up

CONTRACTS_MARK = "any part of a customer"  # the Contracts pane's search box is on screen (in English)
BUSY = "while True: pass"
SIMULATOR = ""  # --simulator DIR: the checkout whose simulator offers the load
FORK_POLLING = False  # --fork-polling: a tmux process per key and per look (as before 2026-12-03 17:00)


def _env(source: Path, db: Path, port: int, tmp: Path) -> dict[str, str]:
    return {
        **os.environ,
        "KASSA24_DATABASE_URL": f"sqlite:///{db}",
        "KASSA24_PORT": str(port),
        "KASSA24_SECRET_KEY": SECRET,
        "KASSA24_LANGUAGE": "en",  # the screen mark below is English
        "KASSA24_PROJECT_ID": str(PROJECT_ID),
        "KASSA24_LOG_FILE": str(tmp / f"k24-{port}.log"),
        "PYTHONPATH": str(source),
    }


def _simulate(env: dict[str, str], port: int, rate: float, duration: float) -> subprocess.Popen[bytes]:
    args = [
        sys.executable, "-m", "kassa24_console", "simulate", "--url", f"http://127.0.0.1:{port}/kassa24",
        "--seed-database", env["KASSA24_DATABASE_URL"],  # the key comes from KASSA24_SECRET_KEY
        "--project-id", env["KASSA24_PROJECT_ID"], "--rate", str(rate), "--duration", str(duration), "--json",
    ]  # fmt: skip
    source = SIMULATOR or env["PYTHONPATH"]  # the load generator: the measured checkout's unless told
    env = {**env, "PYTHONPATH": source}
    return subprocess.Popen(args, env=env, cwd=source, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)


def _pane(session: str) -> str:
    return subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True).stdout


class Control:
    """One tmux control-mode client (``tmux -C``) for the session: keys sent and the screen
    read as commands on its pipe. Starting a tmux client for every look (``capture-pane``
    every 2 ms, ``send-keys`` for each key) cost the machine a fork and exec each time:
    several milliseconds per look on two busy cores, counted in every switch's time and
    taken from the console and its listener (``FORK_POLLING = True`` measures so again)."""

    def __init__(self, session: str) -> None:
        self.session = session
        self.process = subprocess.Popen(
            ["tmux", "-C", "attach-session", "-f", "ignore-size,no-output", "-t", session],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )

    def command(self, line: str) -> list[str]:
        """Send one command; its output lines (notifications skipped)."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        lines: list[str] | None = None
        for got in self.process.stdout:
            got = got.rstrip("\n")
            if lines is None:
                if got.startswith("%begin"):
                    lines = []
            elif got.startswith(("%end", "%error")):
                return lines
            else:
                lines.append(got)
        raise RuntimeError("tmux control client ended")

    def keys(self, key: str) -> None:
        if FORK_POLLING:
            subprocess.run(["tmux", "send-keys", "-t", self.session, key], check=True)
        else:
            self.command(f"send-keys -t {self.session} {key}")

    def screen(self) -> str:
        if FORK_POLLING:
            return _pane(self.session)
        return "\n".join(self.command(f"capture-pane -p -t {self.session}"))

    def close(self) -> None:
        with contextlib.suppress(OSError):
            assert self.process.stdin is not None
            self.process.stdin.close()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _load_numbers(load: subprocess.Popen[bytes], rate: float, duration: float, db: Path) -> dict[str, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out, _ = load.communicate(timeout=duration * 20 + 120)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    report = json.loads(out)
    verify = report["latency_ms"]["verify"]
    offered = rate * duration
    return {
        "cycles_per_s": report["cycles_per_s"],
        "completed": report["ok"] / offered,
        "elapsed_s": report["elapsed_s"],
        "verify_p50_ms": verify["p50"],
        "verify_p99_ms": verify["p99"],
        "errors": sum(report["errors"].values()),
        # the simulator's own CPU: a load generator short of it reports its own queueing as latency
        "simulator_cpu_s": round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 1),
        **_listener_latency(db),
    }


def _listener_latency(db: Path) -> dict[str, float]:
    """The listener's own time per verify (request in → answer out), as it recorded it in
    ``traffic.latency_us``: beside the platform's view, it tells a slow listener from a
    load generator that fell behind (which reports its own queue as latency)."""
    with contextlib.closing(sqlite3.connect(db)) as connection:
        rows = connection.execute("SELECT latency_us FROM traffic WHERE kind = 'verify' ORDER BY latency_us")
        values = [row[0] / 1000 for row in rows]
    if not values:
        return {}
    pick = lambda q: round(values[min(len(values) - 1, int(q * len(values)))], 1)  # noqa: E731
    return {"listener_verify_p50_ms": pick(0.5), "listener_verify_p99_ms": pick(0.99)}


def _cpu_s(pids: list[int]) -> float:
    """User + system CPU seconds the processes used so far (0 for one that is gone)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _tmux_server() -> int:
    return int(subprocess.run(["tmux", "display-message", "-p", "#{pid}"], capture_output=True, text=True).stdout)


def _processes(session: str) -> tuple[list[int], list[int]]:
    """The console's process(es) and its listener's: every process under the tmux pane,
    the listener child told by its command line."""
    shell = subprocess.run(
        ["tmux", "display-message", "-p", "-t", session, "#{pane_pid}"], capture_output=True, text=True
    ).stdout.strip()
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
    under, todo = set(), [int(shell)] if shell.isdigit() else []
    while todo:
        pid = todo.pop()
        under.add(pid)
        todo.extend(child for child, parent in parents.items() if parent == pid and child not in under)
    console, listener = [], []
    for pid in sorted(under):
        with contextlib.suppress(OSError):
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
            (listener if b"child_main" in command else console).append(pid)
    return console, listener


def headless(source: Path, tmp: Path, rate: float, duration: float) -> dict[str, float]:
    port = free_port()
    db = tmp / f"serve-{port}.db"
    env = _env(source, db, port, tmp)
    server = subprocess.Popen(
        [sys.executable, "-m", "kassa24_console", "serve"],
        env=env,
        cwd=source,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_up(f"http://127.0.0.1:{port}/healthz")
        cpu = _cpu_s([server.pid])
        numbers = _load_numbers(_simulate(env, port, rate, duration), rate, duration, db)
        return {**numbers, "listener_cpu_s": round(_cpu_s([server.pid]) - cpu, 1)}
    finally:
        stop(server)


def console(
    source: Path, tmp: Path, rate: float, duration: float, trace: Path | None = None, keys: bool = True
) -> dict[str, float]:
    port = free_port()
    db = tmp / f"console-{port}.db"
    env = _env(source, db, port, tmp)
    session = f"k24load{port}"
    run_env = env
    if trace is not None:  # the tracer is this checkout's, whatever the source run
        run_env = {**env, "K24_TRACE": str(trace), "PYTHONPATH": f"{source}{os.pathsep}{ROOT}"}
        if profile := os.environ.get("K24_PROFILE"):  # cProfile key → frame (console_trace)
            run_env["K24_PROFILE"] = profile
    keep = ("KASSA24_", "PYTHONPATH", "K24_TRACE", "K24_PROFILE")
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in run_env.items() if k.startswith(keep))
    module = "benchmarks.console_trace" if trace is not None else "kassa24_console"
    command = f"cd {shlex.quote(str(source))} && env {exports} {sys.executable} -m {module}"
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "40", command], check=True)
    try:
        wait_up(f"http://127.0.0.1:{port}/healthz")
        processes = (*_processes(session), [_tmux_server()])
        cpu = [_cpu_s(pids) for pids in processes]
        mine = resource.getrusage(resource.RUSAGE_CHILDREN)
        if rate:
            load = _simulate(env, port, rate, duration)
        else:  # idle: a seeded database, nothing offered
            _seed(env)
            load = None
        time.sleep(3)  # the load is flowing
        control = Control(session)
        presses: list[float] = []
        deadline = time.monotonic() + duration - 4
        while keys and time.monotonic() < deadline:
            key, shown = ("c", True) if len(presses) % 2 == 0 else ("t", False)
            pressed = time.monotonic()
            control.keys(key)
            while (CONTRACTS_MARK in control.screen()) != shown and time.monotonic() - pressed < 30:
                time.sleep(0.002)
            presses.append((time.monotonic() - pressed) * 1000)
            time.sleep(0.5)
        control.close()
        numbers = _load_numbers(load, rate, duration, db) if load is not None else {}
        numbers.update(
            {
                f"{name}_cpu_s": round(_cpu_s(pids) - was, 1)
                for name, pids, was in zip(("console", "listener", "tmux"), processes, cpu, strict=True)
            }
        )
        spent = resource.getrusage(resource.RUSAGE_CHILDREN)  # the simulator and every tmux client run here
        polling = spent.ru_utime + spent.ru_stime - mine.ru_utime - mine.ru_stime - numbers.get("simulator_cpu_s", 0)
        numbers["key_polling_cpu_s"] = round(polling, 1)
        if presses:  # none with keys=False: the console left on the Traffic pane
            numbers.update(
                key_p50_ms=statistics.median(presses), key_max_ms=max(presses), key_presses=len(presses)
            )  # fmt: skip
        return numbers
    finally:
        subprocess.run(["tmux", "send-keys", "-t", session, "q"], check=False)
        time.sleep(3)
        subprocess.run(["tmux", "kill-session", "-t", session], check=False, capture_output=True)


def _seed(env: dict[str, str]) -> None:
    """The simulator's database seeding, with one payment cycle (an idle console with rows)."""
    port = env["KASSA24_PORT"]
    _simulate(env, int(port), 1, 1).communicate(timeout=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--source", type=Path, default=ROOT, help="the checkout to run (default: this one)")
    parser.add_argument("--only-console", action="store_true", help="the console alone, no busy core")
    parser.add_argument("--trace", type=Path, help="trace the console from inside into this file")
    parser.add_argument("--no-keys", action="store_true", help="no key pressed: the console stays on Traffic")
    parser.add_argument("--headless-too", action="store_true", help="with --only-console: headless serve first")
    parser.add_argument(
        "--simulator", type=Path, help="the checkout whose simulator offers the load (default: --source)"
    )
    parser.add_argument("--fork-polling", action="store_true", help="a tmux process per key and per look")
    args = parser.parse_args()
    global SIMULATOR, FORK_POLLING
    if args.simulator is not None:
        SIMULATOR = str(args.simulator)
    FORK_POLLING = args.fork_polling
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="k24-console-load-") as name:
        tmp = Path(name)
        if args.only_console:
            if args.headless_too:
                results["headless serve"] = headless(args.source, tmp, args.rate, args.duration)
            results["console"] = console(args.source, tmp, args.rate, args.duration, args.trace, not args.no_keys)
            print(json.dumps(results, indent=2))
            if args.trace is not None:
                from benchmarks.console_trace import summarize

                print(summarize(str(args.trace)))
            return
        for busy in (False, True):
            hog = subprocess.Popen([sys.executable, "-c", BUSY]) if busy else None
            try:
                suffix = " + 1 core busy" if busy else ""
                results[f"headless serve{suffix}"] = headless(args.source, tmp, args.rate, args.duration)
                results[f"console{suffix}"] = console(args.source, tmp, args.rate, args.duration)
            finally:
                if hog is not None:
                    hog.kill()
                    hog.wait()
    print(json.dumps(results, indent=2))
    print(table(results))


def table(results: dict[str, dict[str, Any]]) -> str:
    lines = [
        "| run | cycles/s | completed | verify p50 | verify p99 | key → screen p50 | worst |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        keys = f"{r['key_p50_ms']:.0f} ms | {r['key_max_ms']:.0f} ms" if "key_p50_ms" in r else "– | –"
        if "cycles_per_s" not in r:  # idle
            lines.append(f"| {name} | – | – | – | – | {keys} |")
            continue
        lines.append(
            f"| {name} | {r['cycles_per_s']:.1f} | {r['completed']:.1%} | {r['verify_p50_ms']:.1f} ms "
            f"| {r['verify_p99_ms']:.1f} ms | {keys} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
