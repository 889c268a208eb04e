"""Throughput and latency of ``serve`` against a bare ASGI echo, measured in the same run.

Needs ``wrk`` (Debian package ``wrk``). Usage::

    .venv/bin/python benchmarks/run.py [--duration 10] [--connections 32] [--rows 1000]

Prints a Markdown table (and writes ``benchmarks/results.md``): requests/s, latency
percentiles, and each rate as a ratio of the echo's, which is what the budgets in
DESIGN.md are stated in. Absolute numbers vary with the machine; the ratios are the point.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kassa24_console import importer  # noqa: E402
from kassa24_console.protocol.signature import signed  # noqa: E402
from kassa24_console.store import Store  # noqa: E402

SECRET = "bench-secret"
PROJECT_ID = 1234
LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open(os.getenv("K24_BODY"), "r")
wrk.body = f:read("*a")
f:close()
"""


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


async def _seed(db_url: str, rows: int) -> None:
    """``rows`` accounts with one contract each; the benchmark customer is among them."""
    store = Store(db_url)
    await store.open()
    batch = importer.Batch(sources=["bench"])
    for i in range(rows):
        batch.accounts.append(
            {
                "customer_id": f"{7_000_000_000 + i}",
                "currency": "KZT",
                "name": f"Bench {i}",
                "additional_customer_id": None,
            }
        )
        batch.contracts.append(
            {
                "id": f"B-{i}",
                "customer_id": f"{7_000_000_000 + i}",
                "number": f"B/{i}",
                "payment": 10_000_000,
                "min_payment": None,
                "status_code": 0,
                "status_text": "",
                "info": {"customer_name": f"Bench {i}"},
            }
        )
    for start in range(0, rows, 5000):
        part = importer.Batch(batch.accounts[start : start + 5000], batch.contracts[start : start + 5000], ["bench"])
        await importer.apply(store, part, actor="bench")
    await store.close()


def _wrk(url: str, body: dict, duration: int, connections: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        script, payload = Path(tmp) / "post.lua", Path(tmp) / "body.json"
        script.write_text(LUA)
        payload.write_text(json.dumps(body))
        out = subprocess.run(
            ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script), url],
            env={**os.environ, "K24_BODY": str(payload)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}
    for pct in ("50", "90", "99"):
        value, unit = re.search(rf"\s{pct}%\s+([\d.]+)(us|ms|s)", out).groups()
        result[f"p{pct}"] = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    result["errors"] = float(errors.group(1)) if errors else 0.0
    return result


def _console_in_tmux(env: dict[str, str], port: int) -> str:
    """The console with its embedded listener, in a real 120x40 terminal (tmux)."""
    session = f"k24bench{port}"
    exports = " ".join(f"{k}={v}" for k, v in env.items() if k.startswith("KASSA24_") or k == "PYTHONPATH")
    command = f"cd {ROOT} && env {exports} KASSA24_PORT={port} {sys.executable} -m kassa24_console.cli"
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "40", command], check=True)
    return session


def _server_latency(db_path: Path, after_id: int) -> dict[str, tuple[float, float]]:
    """p50/p99 of the latency the listener itself recorded (ms), per kind, for rows after ``after_id``."""
    import sqlite3

    with sqlite3.connect(db_path) as connection:
        rows = connection.execute("SELECT kind, latency_us FROM traffic WHERE id > ?", (after_id,)).fetchall()
    result = {}
    for kind in ("verify", "check_deposit", "callback"):
        values = sorted(us / 1000 for k, us in rows if k == kind)
        if values:
            result[kind] = (values[len(values) // 2], values[min(len(values) - 1, int(len(values) * 0.99))])
    return result


def _last_traffic_id(db_path: Path) -> int:
    import sqlite3

    with sqlite3.connect(db_path) as connection:
        return connection.execute("SELECT coalesce(max(id), 0) FROM traffic").fetchone()[0]


def _cycles(url: str, db_path: Path, env: dict[str, str], rate: float, duration: int) -> dict:
    """Full payment cycles at a fixed offered rate (3 requests per cycle): client and server view."""
    before = _last_traffic_id(db_path)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "kassa24_console.cli",
            "simulate",
            "--url",
            url,
            "--seed-database",
            f"sqlite:///{db_path}",
            "--secret-key",
            SECRET,
            "--project-id",
            str(PROJECT_ID),
            "--rate",
            str(rate),
            "--duration",
            str(duration),
            "--json",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    ).stdout
    summary = json.loads(out)
    time.sleep(1)  # traffic records are flushed in batches
    summary["server_ms"] = _server_latency(db_path, before)
    return summary


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(args, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rows", type=int, default=1000, help="accounts in the database")
    parser.add_argument("--console", action="store_true", help="also measure with the console open (needs tmux)")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")

    tmp = Path(tempfile.mkdtemp(prefix="k24-bench-"))
    db_path = tmp / "bench.db"
    db_url = f"sqlite:///{db_path}"
    asyncio.run(_seed(db_url, args.rows))
    echo_port, serve_port = _free_port(), _free_port()
    env = {
        **os.environ,
        "KASSA24_DATABASE_URL": db_url,
        "KASSA24_PORT": str(serve_port),
        "KASSA24_SECRET_KEY": SECRET,
        "KASSA24_PROJECT_ID": str(PROJECT_ID),
        "KASSA24_LOG_FILE": str(tmp / "serve.log"),
        "PYTHONPATH": str(ROOT),
    }
    echo = _start(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "benchmarks.echo:app",
            "--http",
            "httptools",
            "--no-access-log",
            "--log-level",
            "warning",
            "--port",
            str(echo_port),
        ],
        env,
    )
    serve = _start([sys.executable, "-m", "kassa24_console.cli", "serve"], env)
    customer = f"{7_000_000_000 + args.rows // 2}"
    contract = f"B-{args.rows // 2}"
    verify = signed({"type": "verify", "project_id": PROJECT_ID, "customer_id": customer}, SECRET)
    deposit = signed(
        {
            "type": "check_deposit",
            "project_id": PROJECT_ID,
            "customer_id": customer,
            "entity_id": contract,
            "amount": 10_000,
            "currency": "KZT",
            "payment_method": "kassa24",
        },
        SECRET,
    )
    try:
        _wait(f"http://127.0.0.1:{echo_port}/")
        _wait(f"http://127.0.0.1:{serve_port}/healthz")
        assert httpx.post(f"http://127.0.0.1:{serve_port}/kassa24", json=verify).json()["code"] == 0
        assert httpx.post(f"http://127.0.0.1:{serve_port}/kassa24", json=deposit).json()["code"] == 0
        cycles = {"serve": _cycles(f"http://127.0.0.1:{serve_port}/kassa24", db_path, env, 100, args.duration)}
        runs = {
            "echo (baseline)": _wrk(f"http://127.0.0.1:{echo_port}/", verify, args.duration, args.connections),
            "verify": _wrk(f"http://127.0.0.1:{serve_port}/kassa24", verify, args.duration, args.connections),
            "check_deposit": _wrk(f"http://127.0.0.1:{serve_port}/kassa24", deposit, args.duration, args.connections),
        }
    finally:
        for proc in (echo, serve):
            proc.terminate()
            proc.wait(15)
    if args.console and shutil.which("tmux"):
        console_port = _free_port()
        session = _console_in_tmux(env, console_port)
        try:
            _wait(f"http://127.0.0.1:{console_port}/healthz")
            url = f"http://127.0.0.1:{console_port}/kassa24"
            cycles["console open"] = _cycles(url, db_path, env, 100, args.duration)
            runs["verify, console open"] = _wrk(url, verify, args.duration, args.connections)
            runs["check_deposit, console open"] = _wrk(url, deposit, args.duration, args.connections)
        finally:
            subprocess.run(["tmux", "send-keys", "-t", session, "q"], check=False)
            time.sleep(2)
            subprocess.run(["tmux", "kill-session", "-t", session], check=False, capture_output=True)
    base = runs["echo (baseline)"]["rps"]
    lines = [
        f"wrk -t2 -c{args.connections} -d{args.duration}s, {args.rows} accounts, {os.cpu_count()} cores, "
        f"{time.strftime('%Y-%m-%d')}",
        "",
        "| endpoint | req/s | × echo | p50 ms | p90 ms | p99 ms | non-2xx |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in runs.items():
        lines.append(
            f"| {name} | {r['rps']:.0f} | {r['rps'] / base:.2f} | {r['p50']:.2f} | {r['p90']:.2f} | "
            f"{r['p99']:.2f} | {r['errors']:.0f} |"
        )
    lines += [
        "",
        f"Payment cycles (verify → check_deposit → callback) offered at 100/s = 300 requests/s, {args.duration} s:",
        "",
        "| where | cycles ok | errors | verify p50/p99 ms | check_deposit p50/p99 ms | callback p50/p99 ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, c in cycles.items():
        lat, server = c["latency_ms"], c["server_ms"]
        client = " | ".join(
            f"{lat[k]['p50']:.1f} / {lat[k]['p99']:.1f}" for k in ("verify", "check_deposit", "callback")
        )
        inside = " | ".join(
            f"{server[k][0]:.1f} / {server[k][1]:.1f}" if k in server else "–"
            for k in ("verify", "check_deposit", "callback")
        )
        lines.append(f"| {name}, as the simulator saw it | {c['ok']} | {sum(c['errors'].values())} | {client} |")
        lines.append(f"| {name}, inside the listener | | | {inside} |")
    text = "\n".join(lines) + "\n"
    (ROOT / "benchmarks" / "results.md").write_text(text)
    print(text)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
