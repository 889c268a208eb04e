"""What the benchmark scripts share: seeding, starting servers, wrk and its numbers.

Everything runs on this machine over loopback; servers are child processes that the caller
stops. Rates are only ever compared with a baseline measured in the same run.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kassa24_console.protocol.signature import signed, string_to_sign  # noqa: E402

SECRET = "bench-secret"
PROJECT_ID = 1234
DUE = 10**12  # so many credits never bring a contract to zero
POST_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open(os.getenv("K24_BODY"), "r")
wrk.body = f:read("*a")
f:close()
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_up(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


def customer(i: int) -> str:
    return f"{7_000_000_000 + i}"


def seed_sqlite(path: Path, rows: int) -> None:
    """``rows`` accounts with one contract each, written straight into a fresh schema (the
    importer would take minutes for a million)."""
    from sqlalchemy import create_engine

    from kassa24_console.store.db import create_schema

    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        create_schema(connection)
    engine.dispose()
    now = time.time_ns() // 1000
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.executemany(
            "INSERT INTO accounts (project_id, customer_id, currency, name, additional_customer_id, updated_at)"
            " VALUES (1234, ?, 'KZT', ?, NULL, ?)",
            ((customer(i), f"Bench {i}", now) for i in range(rows)),
        )
        db.executemany(
            "INSERT INTO contracts (project_id, id, customer_id, number, payment, min_payment, status_code,"
            " status_text, info, updated_at, version) VALUES (1234, ?, ?, ?, ?, NULL, 0, '', ?, ?, 1)",
            (
                (f"B-{i}", customer(i), f"B/{i}", DUE, json.dumps({"customer_name": f"Bench {i}"}), now)
                for i in range(rows)
            ),
        )
    # Into the file itself, the log cut: a copy of the file alone holds the rows too.
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def verify_body(i: int) -> dict[str, Any]:
    return signed({"type": "verify", "project_id": PROJECT_ID, "customer_id": customer(i)}, SECRET)


def deposit_body(i: int) -> dict[str, Any]:
    body = {
        "type": "check_deposit",
        "project_id": PROJECT_ID,
        "customer_id": customer(i),
        "entity_id": f"B-{i}",
        "amount": 10_000,
        "currency": "KZT",
        "payment_method": "kassa24",
    }
    return signed(body, SECRET)


def callback_template(i: int) -> dict[str, Any]:
    """A success callback for the deposit ``@PID@`` of customer ``i`` (unsigned)."""
    from kassa24_console.simulate.platform import Platform

    platform = Platform("http://unused", "http://unused", PROJECT_ID, SECRET)
    return platform.callback_body("@PID@", "success", 10_000, customer(i))


def write_cycle_file(path: Path, rows: int) -> None:
    """The data ``cycle.lua`` reads (see there): verifies over many customers, one deposit
    body a wrk thread (customers of their own), and the callback template."""
    picks = [rows // 2 + k for k in range(min(64, rows - rows // 2))]
    template = callback_template(picks[0])
    # The placeholder stands where a real payment id will: the entries sort the same.
    assert signed(template, SECRET)["signature"] != signed({**template, "x": 1}, SECRET)["signature"]
    lines = [f"V {json.dumps(verify_body(i))}" for i in picks]
    lines += [f"D {json.dumps(deposit_body(picks[0]))}", f"D {json.dumps(deposit_body(picks[1]))}"]
    lines += [f"C {json.dumps(template)}", f"S {string_to_sign(template)}", f"K {SECRET}"]
    path.write_text("\n".join(lines) + "\n")


def _wrk_numbers(out: str) -> dict[str, float]:
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}
    for pct in ("50", "90", "99"):
        value, unit = re.search(rf"\s{pct}%\s+([\d.]+)(us|ms|s)", out).groups()
        result[f"p{pct}"] = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    result["errors"] = float(errors.group(1)) if errors else 0.0
    cycles = re.search(r"cycles: issued (\d+) applied (\d+) other (\d+)", out)
    if cycles:
        result["issued"], result["applied"], result["other"] = (float(g) for g in cycles.groups())
    return result


def _cpu_seconds() -> dict[str, float]:
    """CPU seconds used so far by each group of this machine's processes (Linux ``/proc``):
    the listeners, PostgreSQL, and everything else (wrk, once ended, is counted apart)."""
    tick = os.sysconf("SC_CLK_TCK")
    used: dict[str, float] = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        group = (
            "wrk" if name == "wrk"
            else "listeners" if b"kassa24_console serve" in command
            else "postgres" if name.startswith("postgres")
            else "other"
        )  # fmt: skip
        used[group] = used.get(group, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return used


def wrk(url: str, duration: int, connections: int, *, body: dict[str, Any] | None = None, cycle: Path | None = None):
    """wrk -t2 against ``url``: one signed body over and over, or full cycles. Besides the
    rates, ``cpu_*``: the share of one core each group of processes used meanwhile (the
    listeners, PostgreSQL, wrk, the rest of the machine)."""
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ)
        if cycle is not None:
            script = ROOT / "benchmarks" / "cycle.lua"
            env["K24_CYCLE"] = str(cycle)
        else:
            script, payload = Path(tmp) / "post.lua", Path(tmp) / "body.json"
            script.write_text(POST_LUA)
            payload.write_text(json.dumps(body))
            env["K24_BODY"] = str(payload)
        threads = min(2, connections)
        command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script), url]
        before, children, started = _cpu_seconds(), os.times(), time.monotonic()
        out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
        after, children_after, wall = _cpu_seconds(), os.times(), time.monotonic() - started
    result = _wrk_numbers(out)
    for group in ("listeners", "postgres", "other"):
        result[f"cpu_{group}"] = (after.get(group, 0.0) - before.get(group, 0.0)) / wall
    wrk_cpu = children_after.children_user + children_after.children_system
    result["cpu_wrk"] = (wrk_cpu - children.children_user - children.children_system) / wall
    return result


def start(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """A child process; its stderr goes to ``$K24_BENCH_LOGS/NAME.stderr`` when that is set."""
    logs = os.environ.get("K24_BENCH_LOGS")
    if logs:
        name = f"{Path(args[-1]).name}-{int(time.time() * 1000) % 10**8}.stderr"
        with open(Path(logs) / name, "ab") as err:
            return subprocess.Popen(args, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err)
    return subprocess.Popen(args, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(*procs: subprocess.Popen[bytes]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def echo(port: int, env: dict[str, str], loop: str = "auto") -> subprocess.Popen[bytes]:
    """The echo on uvicorn; ``loop`` "auto" is uvloop when installed, as ``serve`` runs."""
    args = ["-m", "uvicorn", "benchmarks.echo:app", "--http", "httptools", "--no-access-log", "--loop", loop]
    return start([sys.executable, *args, "--log-level", "warning", "--port", str(port)], env)


def serve_env(db_url: str, port: int, log_file: Path) -> dict[str, str]:
    return {
        **os.environ,
        "KASSA24_DATABASE_URL": db_url,
        "KASSA24_PORT": str(port),
        "KASSA24_SECRET_KEY": SECRET,
        "KASSA24_PROJECT_ID": str(PROJECT_ID),
        "KASSA24_LOG_FILE": str(log_file),
        "PYTHONPATH": str(ROOT),
    }


def console_in_tmux(env: dict[str, str], port: int, *, attach: bool = False, size: str = "120x40") -> str:
    """The console (with its embedded listener unless ``attach``) in a real terminal."""
    width, height = size.split("x")
    session = f"k24bench{port}"
    exports = " ".join(f"{k}={v}" for k, v in env.items() if k.startswith("KASSA24_") or k == "PYTHONPATH")
    flag = " --attach" if attach else ""
    command = f"cd {ROOT} && env {exports} KASSA24_PORT={port} {sys.executable} -m kassa24_console{flag}"
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", width, "-y", height, command], check=True)
    return session


def close_tmux(session: str) -> None:
    subprocess.run(["tmux", "send-keys", "-t", session, "q"], check=False)
    time.sleep(2)
    subprocess.run(["tmux", "kill-session", "-t", session], check=False, capture_output=True)


def settled(db_path: Path) -> tuple[int, int]:
    """(deposits paid, payment audit rows): what the cycles really credited."""
    with sqlite3.connect(db_path) as db:
        paid = db.execute("SELECT count(*) FROM deposits WHERE state = 'paid'").fetchone()[0]
        credits = db.execute("SELECT count(*) FROM audit WHERE kind = 'payment'").fetchone()[0]
    return paid, credits
