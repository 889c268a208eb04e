"""How costs grow with the data: 1 000 rows against 1 000 000, measured in one run.

For each size: verify's latency at one connection (wrk -c1), the console's start (until
its first screen is drawn, in tmux) and its memory then, and the CPU an idle console
uses over ten seconds. On the big database the callbacks table holds 210 000 rows and
traffic a million. Then, on the big database, how long a key press takes to show while
the simulator sends 300 requests a second to the console's own listener. Usage::

    .venv/bin/python benchmarks/growth.py [--big 1000000]

Prints a Markdown table and appends it to ``benchmarks/results.md``.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import (
    ROOT,
    close_tmux,
    console_in_tmux,
    free_port,
    seed_sqlite,
    serve_env,
    start,
    stop,
    verify_body,
    wait_up,
    wrk,
)

CONTRACTS_MARK = "search: start of a customer"


def add_history(path: Path, callbacks: int, traffic: int) -> None:
    """Callbacks and traffic rows as a long-running listener leaves them (spread over days)."""
    now = time.time_ns() // 1000
    with sqlite3.connect(path) as db:
        db.executemany(
            "INSERT INTO callbacks (received_at, last_received_at, deliveries, dedupe_key, signature_ok, payment_id,"
            " status, outcome, raw) VALUES (?, ?, 1, ?, 1, ?, 'success', 'applied', '{}')",
            ((now - i * 1000, now - i * 1000, f"k24_h{i}|1|success", f"k24_h{i}") for i in range(callbacks)),
        )
        db.executemany(
            "INSERT INTO traffic (at, kind, customer_id, code, http_status, signature_ok, latency_us, peer, request,"
            " response) VALUES (?, 'verify', '7000000001', 0, 200, 1, 500, '127.0.0.1', '{}', '{\"code\": 0}')",
            ((now - 86_400_000_000 - (traffic - i) * 1000,) for i in range(traffic)),
        )


def _pane(session: str) -> str:
    return subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True).stdout


def _console_pid(session: str) -> int:
    shell = subprocess.run(["tmux", "list-panes", "-t", session, "-F", "#{pane_pid}"], capture_output=True, text=True)
    pid = int(shell.stdout.split()[0])
    for _ in range(100):
        children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
        if not children:
            break
        pid = int(children[0])
    return pid


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def console_costs(env: dict[str, str]) -> dict[str, float]:
    """Start (until the header shows the listener), memory, idle CPU over 10 s."""
    port = free_port()
    started = time.monotonic()
    session = console_in_tmux(env, port)
    try:
        while "listening" not in _pane(session):
            if time.monotonic() - started > 120:
                raise RuntimeError("the console did not start:\n" + _pane(session))
            time.sleep(0.02)
        start_s = time.monotonic() - started
        time.sleep(3)  # start-up's own work settles (first pages, counts)
        pid = _console_pid(session)
        rss, cpu = _rss_mb(pid), _cpu_seconds(pid)
        time.sleep(10)
        idle = (_cpu_seconds(pid) - cpu) / 10 * 100
        return {"start_s": start_s, "rss_mb": rss, "idle_cpu_pct": idle}
    finally:
        close_tmux(session)


def key_latency(env: dict[str, str], presses: int = 20) -> list[float]:
    """Milliseconds from a key press to the screen showing it, while 300 req/s flow."""
    port = free_port()
    session = console_in_tmux(env, port)
    try:
        wait_up(f"http://127.0.0.1:{port}/healthz")
        load = start(
            [
                sys.executable, "-m", "kassa24_console", "simulate", "--url", f"http://127.0.0.1:{port}/kassa24",
                "--seed-database", env["KASSA24_DATABASE_URL"],  # the key: KASSA24_SECRET_KEY in env
                "--project-id", env["KASSA24_PROJECT_ID"], "--rate", "100", "--duration", str(presses + 10),
            ],
            env,
        )  # fmt: skip
        time.sleep(4)
        latencies = []
        for i in range(presses):
            key, shown = ("c", True) if i % 2 == 0 else ("t", False)
            pressed = time.monotonic()
            subprocess.run(["tmux", "send-keys", "-t", session, key], check=True)
            while (CONTRACTS_MARK in _pane(session)) != shown:
                time.sleep(0.002)
            latencies.append((time.monotonic() - pressed) * 1000)
            time.sleep(0.3)
        stop(load)
        return sorted(latencies)
    finally:
        close_tmux(session)


def verify_p50(env: dict[str, str], rows: int) -> float:
    port = int(env["KASSA24_PORT"])
    server = start([sys.executable, "-m", "kassa24_console", "serve"], env)
    try:
        wait_up(f"http://127.0.0.1:{port}/healthz")
        return wrk(f"http://127.0.0.1:{port}/kassa24", 5, 1, body=verify_body(rows // 3))["p50"]
    finally:
        stop(server)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--big", type=int, default=1_000_000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="k24-growth-"))
    results: dict[int, dict[str, float]] = {}
    keys: list[float] = []
    for rows in (1000, args.big):
        path = tmp / f"g{rows}.db"
        seed_sqlite(path, rows)
        if rows == args.big:
            add_history(path, callbacks=210_000, traffic=rows)
        env = serve_env(f"sqlite:///{path}", free_port(), tmp / f"g{rows}.log")
        results[rows] = {"verify_p50_ms": verify_p50(env, rows), **console_costs(env)}
        if rows == args.big:
            keys = key_latency(env)
    small, big = results[1000], results[args.big]
    lines = [
        "",
        f"Growth, 1 000 → {args.big:_} accounts (big: 210 000 callbacks, {args.big:_} traffic rows), "
        f"{time.strftime('%Y-%m-%d')}:".replace("_", " "),
        "",
        "| what | 1 000 | big | big / small |",
        "|---|---:|---:|---:|",
    ]
    for key, label in (
        ("verify_p50_ms", "verify p50 at one connection, ms"),
        ("start_s", "console start, s"),
        ("rss_mb", "console memory after start, MB"),
        ("idle_cpu_pct", "idle console CPU, % of a core"),
    ):
        ratio = big[key] / small[key] if small[key] else float("nan")
        lines.append(f"| {label} | {small[key]:.2f} | {big[key]:.2f} | {ratio:.2f} |")
    if keys:
        lines += [
            "",
            f"A key press (switching panes) shown on screen while 300 req/s flow, big database: "
            f"p50 {keys[len(keys) // 2]:.0f} ms, worst {keys[-1]:.0f} ms of {len(keys)}.",
        ]
    text = "\n".join(lines) + "\n"
    with (ROOT / "benchmarks" / "results.md").open("a") as out:
        out.write(text)
    print(text)


if __name__ == "__main__":
    main()
