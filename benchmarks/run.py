"""Throughput and latency of ``serve`` against a bare ASGI echo, measured in the same run.

Needs ``wrk`` (Debian package ``wrk``; its LuaJIT signs the cycle's callbacks with the
system's libcrypto) and, for the console and growth rows, ``tmux``. Usage::

    .venv/bin/python benchmarks/run.py                 # the whole table (about 12 minutes)
    .venv/bin/python benchmarks/run.py --quick         # SQLite headless only

Prints a Markdown table (and writes ``benchmarks/results.md``): requests/s, latency
percentiles, p99/p50, and each rate as a ratio of the echo's, which is what the budgets in
DESIGN.md and the README are stated in. Absolute numbers vary with the machine; the ratios
are the point. Then ``growth.py`` (1 000 against 1 000 000 rows) and ``reconcile_day.py``
add theirs (``--no-growth`` skips them).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from harness import (
    ROOT,
    close_tmux,
    console_in_tmux,
    deposit_body,
    echo,
    free_port,
    seed_sqlite,
    serve_env,
    settled,
    start,
    stop,
    verify_body,
    wait_up,
    write_cycle_file,
    wrk,
)

Runs = dict[str, dict[str, float]]
SERVE = [sys.executable, "-m", "kassa24_console", "serve"]


def _measure(url: str, rows: int, cycle: Path, duration: int, connections: int) -> Runs:
    """verify, check_deposit and full cycles against one listener."""
    mid = rows // 2
    assert httpx.post(url, json=verify_body(mid)).json()["code"] == 0
    return {
        "verify": wrk(url, duration, connections, body=verify_body(mid)),
        "check_deposit": wrk(url, duration, connections, body=deposit_body(mid)),
        "cycle": wrk(url.rsplit("/", 1)[0], duration, connections, cycle=cycle),
    }


def _serve(args: argparse.Namespace, env: dict[str, str], cycle: Path, *, workers: int, name: str) -> Runs:
    """``serve`` headless, as one process or several on one port."""
    port = free_port()
    server = start(SERVE, {**env, "KASSA24_PORT": str(port), "KASSA24_WORKERS": str(workers)})
    try:
        wait_up(f"http://127.0.0.1:{port}/healthz")
        measured = _measure(f"http://127.0.0.1:{port}/kassa24", args.rows, cycle, args.duration, args.connections)
    finally:
        stop(server)
    return {f"{kind}{name}": result for kind, result in measured.items()}


def _console(args: argparse.Namespace, env: dict[str, str], cycle: Path) -> Runs:
    """The console with its embedded listener, in a real 120×40 terminal (tmux)."""
    port = free_port()
    session = console_in_tmux(env, port)
    try:
        wait_up(f"http://127.0.0.1:{port}/healthz")
        time.sleep(2)  # the console's first paint
        opened = _measure(f"http://127.0.0.1:{port}/kassa24", args.rows, cycle, args.duration, args.connections)
    finally:
        close_tmux(session)
    return {f"{kind}, console open": result for kind, result in opened.items()}


def _postgres(args: argparse.Namespace, cycle: Path) -> Runs:
    """The same against PostgreSQL (started here), with one and with two listeners."""
    from postgres import temporary_postgres

    runs: dict[str, dict[str, float]] = {}
    with temporary_postgres(args.rows) as url:
        for listeners in (1, 2):
            port = free_port()
            env = {**serve_env(url, port, Path(tempfile.gettempdir()) / "k24-bench-pg.log")}
            server = start(SERVE, {**env, "KASSA24_WORKERS": str(listeners)})
            try:
                wait_up(f"http://127.0.0.1:{port}/healthz")
                merchant = f"http://127.0.0.1:{port}/kassa24"
                measured = _measure(merchant, args.rows, cycle, args.duration, args.connections)
            finally:
                stop(server)
            for name, result in measured.items():
                runs[f"{name}, PostgreSQL, {listeners} listener{'s' if listeners > 1 else ''}"] = result
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rows", type=int, default=1000, help="accounts in the database")
    parser.add_argument("--quick", action="store_true", help="SQLite headless only")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-console", action="store_true", help="skip the console-open rows")
    parser.add_argument("--postgres-only", action="store_true", help="only the PostgreSQL rows (and the echo)")
    parser.add_argument("--workers", type=int, default=2, help="listener processes of the multi-process rows")
    parser.add_argument("--no-growth", action="store_true", help="skip growth.py and reconcile_day.py")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results.md", help="where the table goes")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")

    tmp = Path(tempfile.mkdtemp(prefix="k24-bench-"))
    db_path = tmp / "bench.db"
    seed_sqlite(db_path, args.rows)
    cycle = tmp / "cycle.txt"
    write_cycle_file(cycle, args.rows)
    echo_port = free_port()
    env = serve_env(f"sqlite:///{db_path}", free_port(), tmp / "serve.log")
    runs: Runs = {}
    # The baseline runs on the loop serve runs on (uvloop); the echo on asyncio's own loop,
    # the baseline of the rounds before uvloop, is measured beside it for comparison.
    for name, loop in (("echo (baseline)", "auto"), ("echo on asyncio's loop (earlier baseline)", "asyncio")):
        baseline = echo(echo_port, env, loop)
        try:
            wait_up(f"http://127.0.0.1:{echo_port}/")
            runs[name] = wrk(f"http://127.0.0.1:{echo_port}/", args.duration, args.connections, body={})
        finally:
            stop(baseline)
    if not args.postgres_only:
        runs.update(_serve(args, env, cycle, workers=1, name=""))
        if args.workers > 1:
            runs.update(_serve(args, env, cycle, workers=args.workers, name=f", {args.workers} listeners"))
        if not (args.quick or args.no_console) and shutil.which("tmux"):
            runs.update(_console(args, env, cycle))
    if args.postgres_only or not (args.quick or args.no_postgres):
        runs.update(_postgres(args, cycle))
    paid, credits = settled(db_path)
    text = _table(args, runs, (paid, credits))
    args.out.write_text(text)
    print(text)
    if not (args.quick or args.postgres_only or args.no_growth):
        for script in ("growth.py", "reconcile_day.py"):  # each appends its part to results.md
            subprocess.run([sys.executable, str(ROOT / "benchmarks" / script)], check=True)
    shutil.rmtree(tmp, ignore_errors=True)


def _table(args: argparse.Namespace, runs: dict[str, dict[str, float]], settled_counts: tuple[int, int]) -> str:
    base = runs["echo (baseline)"]["rps"]
    lines = [
        f"wrk -t2 -c{args.connections} -d{args.duration}s, {args.rows} accounts, {os.cpu_count()} cores "
        f"({platform.machine()}), Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}",
        "",
        "| what | req/s | × echo | p50 ms | p99 ms | p99/p50 | non-2xx | cycles applied |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in runs.items():
        applied = f"{r['applied']:.0f} of {r['issued']:.0f}" if "applied" in r else ""
        lines.append(
            f"| {name} | {r['rps']:.0f} | {r['rps'] / base:.3f} | {r['p50']:.2f} | {r['p99']:.2f} | "
            f"{r['p99'] / r['p50']:.1f} | {r['errors']:.0f} | {applied} |"
        )
    for kind in ("verify", "check_deposit", "cycle"):
        opened = runs.get(f"{kind}, console open")
        if opened:
            lines.append(f"\nConsole open, {kind}: {opened['rps'] / runs[kind]['rps']:.2f} of the headless rate.")
    lines.extend(_postgres_ratios(runs))
    lines.extend(_cpu(runs))
    paid, credits = settled_counts
    lines.append(f"\nHeadless SQLite run: {paid} deposits paid, {credits} credits audited (each once).")
    return "\n".join(lines) + "\n"


def _postgres_ratios(runs: Runs) -> list[str]:
    """PostgreSQL against SQLite (same run, one listener each), and two PostgreSQL
    listeners against one: the targets of the PostgreSQL hot path."""
    lines = []
    for kind in ("verify", "check_deposit", "cycle"):
        one, two = runs.get(f"{kind}, PostgreSQL, 1 listener"), runs.get(f"{kind}, PostgreSQL, 2 listeners")
        if one and kind in runs:
            ratio = one["rps"] / runs[kind]["rps"]
            lines.append(f"\nPostgreSQL, {kind}: {ratio:.2f} of SQLite's rate (one listener each).")
        if one and two:
            lines.append(f"\nPostgreSQL, {kind}: two listeners {two['rps'] / one['rps']:.2f}× one.")
    return lines


def _cpu(runs: Runs) -> list[str]:
    """Where the machine's cores went during the PostgreSQL rows (and SQLite's): whether two
    listeners had a core to use at all."""
    lines = [
        "\nCPU during each row, % of one core (listeners, PostgreSQL, wrk, the rest of the machine):\n",
        "| what | listeners | PostgreSQL | wrk | other | total |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, r in runs.items():
        if "cpu_listeners" not in r or name.startswith("echo"):
            continue
        parts = [r[f"cpu_{g}"] * 100 for g in ("listeners", "postgres", "wrk", "other")]
        lines.append(f"| {name} | " + " | ".join(f"{p:.0f}" for p in parts) + f" | {sum(parts):.0f} |")
    return lines


if __name__ == "__main__":
    main()
