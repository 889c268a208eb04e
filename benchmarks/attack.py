"""Verify's latency while peers flood the listener with unsigned work, against its quiet value.

Four attacker threads post, as fast as the listener takes them, bodies nobody signed: a
64 KB body of ~30 000 JSON values (the heaviest thing to refuse) and forged callbacks. A
fifth client sends signed verifies one at a time and records their latency. Run twice: with
the per-peer budget (the default) and without it (``KASSA24_UNVERIFIED_BUDGET=0``), so the
table shows what the structural limits buy on their own and what the budget adds.

    .venv/bin/python benchmarks/attack.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.run import PROJECT_ID, SECRET, _free_port, _seed, _wait  # noqa: E402
from kassa24_console.protocol.signature import signed  # noqa: E402

HEAVY = b'{"type": "verify", "a": [' + b",".join(b"1" for _ in range(30_000)) + b"]}"


def _attacker(port: int, stop: threading.Event, sent: list[int]) -> None:
    request = (
        f"POST /kassa24 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len(HEAVY)}\r\n\r\n"
    ).encode() + HEAVY
    while not stop.is_set():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                while not stop.is_set():
                    sock.sendall(request)
                    if not sock.recv(65536):
                        break
                    sent[0] += 1
        except OSError:
            time.sleep(0.01)


def _verifies(url: str, body: dict, seconds: float) -> list[float]:
    latencies = []
    with httpx.Client() as client:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            started = time.perf_counter()
            assert client.post(url, json=body).json()["code"] == 0
            latencies.append((time.perf_counter() - started) * 1000)
    return sorted(latencies)


def _pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(len(values) * q))]


def measure(budget: str, seconds: float) -> dict[str, float]:
    tmp = Path(tempfile.mkdtemp(prefix="k24-attack-"))
    db_url = f"sqlite:///{tmp / 'k.db'}"
    import asyncio

    asyncio.run(_seed(db_url, 1000))
    port = _free_port()
    env = {
        **os.environ,
        "KASSA24_DATABASE_URL": db_url,
        "KASSA24_PORT": str(port),
        "KASSA24_SECRET_KEY": SECRET,
        "KASSA24_PROJECT_ID": str(PROJECT_ID),
        "KASSA24_LOG_FILE": str(tmp / "k.log"),
        "KASSA24_UNVERIFIED_BUDGET": budget,
        "PYTHONPATH": str(ROOT),
    }
    serve = subprocess.Popen([sys.executable, "-m", "kassa24_console.cli", "serve"], env=env, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/kassa24"
    body = signed({"type": "verify", "project_id": PROJECT_ID, "customer_id": "7000000500"}, SECRET)
    try:
        _wait(f"http://127.0.0.1:{port}/healthz")
        quiet = _verifies(url, body, seconds)
        stop, sent = threading.Event(), [0]
        threads = [threading.Thread(target=_attacker, args=(port, stop, sent)) for _ in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(1)
        attacked = _verifies(url, body, seconds)
        stop.set()
        for thread in threads:
            thread.join()
    finally:
        serve.terminate()
        serve.wait(15)
    return {
        "quiet_p50": _pct(quiet, 0.5),
        "quiet_p99": _pct(quiet, 0.99),
        "attacked_p50": _pct(attacked, 0.5),
        "attacked_p99": _pct(attacked, 0.99),
        "attack_requests": sent[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    lines = [
        f"verify at one connection, quiet and under 4 attackers posting 64 KB unsigned bodies, {args.seconds:g} s "
        f"each, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}",
        "",
        "| per-peer budget | quiet p50 / p99 ms | attacked p50 / p99 ms | attacker requests answered |",
        "|---|---:|---:|---:|",
    ]
    for label, budget in (("120/min (default)", "120"), ("off", "0")):
        r = measure(budget, args.seconds)
        lines.append(
            f"| {label} | {r['quiet_p50']:.2f} / {r['quiet_p99']:.2f} | {r['attacked_p50']:.2f} / "
            f"{r['attacked_p99']:.2f} | {r['attack_requests']} |"
        )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
