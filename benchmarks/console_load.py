"""The console under load as its user sees it (issue 24).

The simulator offers payment cycles at a fixed rate (100/s: about 300 requests/s) to the
console's embedded listener, the console running in a real terminal (tmux, 120×40), while
keys are pressed through ``tmux send-keys`` (Contracts and Traffic in turn) and the time
until the screen shows the other pane is measured. Beside it the same load offered to a
headless ``serve``. Each with and without one core kept busy by another process.

``--source DIR`` runs the program from another checkout (the "before" of the README):
``git archive <commit> | tar -x -C DIR``. Usage::

    .venv/bin/python -m benchmarks.console_load [--rate 100] [--duration 30] [--source DIR]

``--only-console`` measures the console alone (no headless row, no busy core: on a shared
machine); ``--rate 0`` switches panes with no load; ``--trace FILE`` runs the console under
:mod:`benchmarks.console_trace` (key → switch → frame, slow callbacks) and summarizes it.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
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
    return subprocess.Popen(args, env=env, cwd=env["PYTHONPATH"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)


def _pane(session: str) -> str:
    return subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True).stdout


def _load_numbers(load: subprocess.Popen[bytes], rate: float, duration: float) -> dict[str, float]:
    out, _ = load.communicate(timeout=duration * 20 + 120)
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
    }


def headless(source: Path, tmp: Path, rate: float, duration: float) -> dict[str, float]:
    port = free_port()
    env = _env(source, tmp / f"serve-{port}.db", port, tmp)
    server = subprocess.Popen(
        [sys.executable, "-m", "kassa24_console", "serve"],
        env=env,
        cwd=source,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_up(f"http://127.0.0.1:{port}/healthz")
        return _load_numbers(_simulate(env, port, rate, duration), rate, duration)
    finally:
        stop(server)


def console(source: Path, tmp: Path, rate: float, duration: float, trace: Path | None = None) -> dict[str, float]:
    port = free_port()
    env = _env(source, tmp / f"console-{port}.db", port, tmp)
    session = f"k24load{port}"
    run_env = env
    if trace is not None:  # the tracer is this checkout's, whatever the source run
        run_env = {**env, "K24_TRACE": str(trace), "PYTHONPATH": f"{source}{os.pathsep}{ROOT}"}
    keep = ("KASSA24_", "PYTHONPATH", "K24_TRACE")
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in run_env.items() if k.startswith(keep))
    module = "benchmarks.console_trace" if trace is not None else "kassa24_console"
    command = f"cd {shlex.quote(str(source))} && env {exports} {sys.executable} -m {module}"
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "40", command], check=True)
    try:
        wait_up(f"http://127.0.0.1:{port}/healthz")
        if rate:
            load = _simulate(env, port, rate, duration)
        else:  # idle: a seeded database, nothing offered
            _seed(env)
            load = None
        time.sleep(3)  # the load is flowing
        presses: list[float] = []
        deadline = time.monotonic() + duration - 4
        while time.monotonic() < deadline:
            key, shown = ("c", True) if len(presses) % 2 == 0 else ("t", False)
            pressed = time.monotonic()
            subprocess.run(["tmux", "send-keys", "-t", session, key], check=True)
            while (CONTRACTS_MARK in _pane(session)) != shown and time.monotonic() - pressed < 30:
                time.sleep(0.002)
            presses.append((time.monotonic() - pressed) * 1000)
            time.sleep(0.5)
        numbers = _load_numbers(load, rate, duration) if load is not None else {}
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
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="k24-console-load-") as name:
        tmp = Path(name)
        if args.only_console:
            results["console"] = console(args.source, tmp, args.rate, args.duration, args.trace)
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
