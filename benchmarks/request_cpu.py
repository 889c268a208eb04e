"""CPU microseconds one request costs the listener's own code, measured in-process.

The real listener app (``Runtime``: the same settings, layers, store, writer thread, request
log and metrics as ``serve``) over a real seeded SQLite file, driven by ``--concurrency``
tasks that call the ASGI app directly with the scope uvicorn would give it. No socket, no
HTTP parser: what is left is the app's own cost, and CPU time (``time.process_time``: every
thread of the process, the writer's and the logging thread's included) barely moves with
the machine's load. The bare echo (``echo.py``) driven the same way is the driver's own
cost; a row's ``app`` column is its cost less the echo's. Usage::

    .venv/bin/python benchmarks/request_cpu.py            # a few seconds a row
    .venv/bin/python benchmarks/request_cpu.py --requests 20000 --rows verify
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

from harness import PROJECT_ID, SECRET, callback_template, customer, deposit_body, seed_sqlite, verify_body

from kassa24_console.protocol.signature import signed

ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]
MERCHANT, CALLBACK = "/kassa24", "/kassa24/callback"


def _scope(path: str, length: int) -> dict[str, Any]:
    """What uvicorn's httptools protocol hands the app for a POST (fresh per request: the
    app writes into it)."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8080),
        "client": ("127.0.0.1", 50000),
        "scheme": "http",
        "method": "POST",
        "root_path": "",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1:8080"),
            (b"content-type", b"application/json"),
            (b"content-length", str(length).encode()),
        ],
    }


class Cycle:
    """One request's ``receive`` and ``send``, as uvicorn's request cycle offers them once
    the whole body has arrived (``more_body`` False)."""

    __slots__ = ("body", "more_body", "sent")

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.more_body = False
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        return {"type": "http.request", "body": self.body, "more_body": False}

    async def send(self, event: dict[str, Any]) -> None:
        self.sent.append(event)


async def call(app: ASGIApp, path: str, body: bytes) -> tuple[int, bytes]:
    """One request through ``app``: its status and body."""
    cycle = Cycle(body)
    await app(_scope(path, len(body)), cycle.receive, cycle.send)
    return cycle.sent[0]["status"], cycle.sent[1]["body"]


class Measure(NamedTuple):
    loop_us: float  # the event loop's thread, a request (the 20th percentile of the slices)
    threads_us: float  # the writer's and the logging thread's, a request (over the whole row)
    process_us: float  # the whole process, a request, as it came (load shows here)
    rate: float  # requests a second, in-process


SLICE = 250  # requests a slice: the loop's CPU is read per slice, and the quieter slices count


async def drive(
    app: ASGIApp, path: str, bodies: list[bytes], concurrency: int, settle: Callable[[], Awaitable[None]]
) -> Measure:
    """Every body once, ``concurrency`` at a time, a slice at a time, then ``settle`` (what
    the requests left queued is written). Another process that shares the core inflates the
    CPU time of whatever it interrupts (cold caches): the loop's slices that were spared say
    what a request costs; the threads' CPU is taken whole."""

    async def worker(queue: Iterator[bytes]) -> None:
        for body in queue:
            status, answer = await call(app, path, body)
            if status != 200 or (b'"code":0' not in answer.replace(b" ", b"") and b'"applied"' not in answer):
                raise SystemExit(f"unexpected answer on {path}: {status} {answer[:200]!r}")

    slices: list[float] = []
    cpu, loop, wall = time.process_time(), time.thread_time(), time.perf_counter()
    for start in range(0, len(bodies), SLICE):
        part = bodies[start : start + SLICE]
        queue, began = iter(part), time.thread_time()
        await asyncio.gather(*(worker(queue) for _ in range(concurrency)))
        slices.append((time.thread_time() - began) / len(part))
    await settle()
    cpu, loop, wall = time.process_time() - cpu, time.thread_time() - loop, time.perf_counter() - wall
    n = len(bodies)
    return Measure(
        statistics.quantiles(slices, n=5)[0] * 1e6 if len(slices) > 1 else slices[0] * 1e6,
        (cpu - loop) / n * 1e6,
        cpu / n * 1e6,
        n / wall,
    )


def _encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


async def measure(args: argparse.Namespace, workdir: Path) -> list[tuple[str, Measure]]:
    from echo import app as echo_app

    from kassa24_console import logs
    from kassa24_console.config import load_settings
    from kassa24_console.listener.server import SWITCH_INTERVAL
    from kassa24_console.logs import configure_logging
    from kassa24_console.runtime import Runtime

    database = workdir / "k24.db"
    seed_sqlite(database, args.accounts)
    os.environ.update(
        {
            "KASSA24_DATABASE_URL": f"sqlite:///{database}",
            "KASSA24_SECRET_KEY": SECRET,
            "KASSA24_PROJECT_ID": str(PROJECT_ID),
            "KASSA24_LOG_FILE": str(workdir / "k24.log"),
        }
    )
    settings = load_settings()
    # As serve: JSON lines to the file and to stderr (here the null device), by a thread.
    sys.stderr = open(os.devnull, "w")  # noqa: SIM115 (for the life of the process)
    configure_logging(settings.log_file, stderr=True)
    runtime = Runtime(settings)
    await runtime.open()
    sys.setswitchinterval(SWITCH_INTERVAL)  # as Listener.start
    gc.freeze()
    app = runtime.app

    async def settle() -> None:
        """The traffic rows committed, the request log's lines formatted and written."""
        await runtime.store.write(lambda connection: None)
        app.flush_request_log()
        while logs.pending():
            await asyncio.sleep(0.001)

    n, mid = args.requests, args.accounts // 2
    picks = [mid + k % 64 for k in range(n)]
    rows: list[tuple[str, Measure]] = []

    async def row(name: str, target: ASGIApp, path: str, bodies: list[bytes]) -> None:
        if path == CALLBACK:  # a payment is credited once: each callback body is sent once
            rows.append((name, await drive(target, path, bodies, args.concurrency, settle)))
            return
        await drive(target, path, bodies[: max(1, len(bodies) // 10)], args.concurrency, settle)  # warm up
        runs = [await drive(target, path, bodies, args.concurrency, settle) for _ in range(args.repeat)]
        rows.append((name, min(runs, key=lambda m: m.loop_us + m.threads_us)))

    wanted = set(args.rows.split(","))
    if "echo" in wanted:
        await row("echo", echo_app, MERCHANT, [_encode(verify_body(i)) for i in picks])
    if "verify" in wanted:
        await row("verify", app, MERCHANT, [_encode(verify_body(i)) for i in picks])
    if "check_deposit" in wanted or "callback" in wanted:
        deposits = [_encode(deposit_body(i)) for i in picks]
        await row("check_deposit", app, MERCHANT, deposits)
    if "callback" in wanted:
        # A deposit each (made concurrently, outside the measure), then its success callback.
        template = callback_template(mid)
        answers: list[tuple[int, bytes]] = []

        async def deposit(i: int) -> None:
            answers.append((i, (await call(app, MERCHANT, _encode(deposit_body(i))))[1]))

        for start in range(0, n, args.concurrency):
            await asyncio.gather(*(deposit(i) for i in picks[start : start + args.concurrency]))
        bodies = []
        for i, answer in answers:
            body = json.loads(json.dumps(template))
            body["payment"]["id"] = json.loads(answer)["payment_id"]
            body["customer"]["id"] = body["account"]["number"] = customer(i)
            bodies.append(_encode(signed(body, SECRET)))
        await row("callback", app, CALLBACK, bodies)
    await runtime.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=5000, help="requests a row")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight (wrk's connections)")
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3, help="runs a row (the least CPU counts); callbacks run once")
    parser.add_argument("--rows", default="echo,verify,check_deposit,callback")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = asyncio.run(measure(args, Path(tmp))) if not _uvloop() else _on_uvloop(args, Path(tmp))
    echo = next((m.loop_us + m.threads_us for name, m in rows if name == "echo"), 0.0)
    load = os.getloadavg()[0]
    print(
        f"{args.requests} requests a row (best of {args.repeat}), {args.concurrency} in flight, load average {load:.2f}"
    )
    head = "| what | loop µs | threads µs | CPU µs/request | app µs (less echo) | process µs as measured | req/s |"
    print(head)
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, m in rows:
        total = m.loop_us + m.threads_us
        print(
            f"| {name} | {m.loop_us:.1f} | {m.threads_us:.1f} | {total:.1f} | {total - echo:.1f} "
            f"| {m.process_us:.1f} | {m.rate:.0f} |"
        )


def _uvloop() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


def _on_uvloop(args: argparse.Namespace, workdir: Path) -> list[tuple[str, Measure]]:
    """On uvloop, as serve runs."""
    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(measure(args, workdir))


if __name__ == "__main__":
    main()
