"""Verify's latency while peers flood the listener with unsigned work, against its quiet value.

Four attacker threads (four peers, told apart by X-Forwarded-For behind a trusted proxy)
post, as fast as the listener takes them, a body nobody signed: 60 KB of ~30 000 JSON values,
the heaviest thing to refuse. A fifth client sends signed verifies one at a time and records
their latency. Run twice: with
the per-peer budget (the default) and without it (``KASSA24_UNVERIFIED_BUDGET=0``), so the
table shows what the structural limits buy on their own and what the budget adds.

    .venv/bin/python benchmarks/attack.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.run import PROJECT_ID, SECRET, _free_port, _seed, _wait  # noqa: E402
from kassa24_console.protocol.signature import signed  # noqa: E402

HEAVY = b'{"type": "verify", "a": [' + b",".join(b"1" for _ in range(30_000)) + b"]}"


def _attack(port: int, seconds: float, sent: Any) -> None:
    stop, counts = threading.Event(), [[0] for _ in range(4)]
    threads = [threading.Thread(target=_attacker, args=(port, stop, counts[n], n)) for n in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    sent.value = sum(c[0] for c in counts)


def _attacker(port: int, stop: threading.Event, sent: list[int], n: int) -> None:
    request = (
        f"POST /kassa24 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Forwarded-For: 198.51.100.{n}\r\n"
        f"Content-Length: {len(HEAVY)}\r\n\r\n"
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
            answer = client.post(url, json=body, headers={"x-forwarded-for": "203.0.113.1"})
            assert answer.json()["code"] == 0
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
        "KASSA24_TRUSTED_PROXIES": "127.0.0.1",  # each client is told apart by X-Forwarded-For
        "PYTHONPATH": str(ROOT),
    }
    serve = subprocess.Popen([sys.executable, "-m", "kassa24_console", "serve"], env=env, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/kassa24"
    body = signed({"type": "verify", "project_id": PROJECT_ID, "customer_id": "7000000500"}, SECRET)
    try:
        _wait(f"http://127.0.0.1:{port}/healthz")
        quiet = _verifies(url, body, seconds)
        sent = multiprocessing.Value("i", 0)
        # The attackers live in a process of their own: their threads must not share the
        # measuring client's interpreter lock, or the client would measure itself.
        attackers = multiprocessing.Process(target=_attack, args=(port, seconds + 1, sent))
        attackers.start()
        time.sleep(1)
        attacked = _verifies(url, body, seconds)
        attackers.join()
    finally:
        serve.terminate()
        serve.wait(15)
    return {
        "quiet_p50": _pct(quiet, 0.5),
        "quiet_p99": _pct(quiet, 0.99),
        "attacked_p50": _pct(attacked, 0.5),
        "attacked_p99": _pct(attacked, 0.99),
        "attack_requests": sent.value,
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
