"""Reconciling one day of a 30-day database: time and the process's peak memory.

The database holds ``--rows`` deposits spread over 30 days (Asia/Almaty), a success
callback and a platform operation for each, and the platform's record applied for every
day. The last full day is reconciled in a fresh process (so its peak memory is the
reconciliation's). Usage::

    .venv/bin/python benchmarks/reconcile_day.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from harness import ROOT, customer, seed_sqlite

ZONE = ZoneInfo("Asia/Almaty")
DAYS = 30


def build(path: Path, rows: int) -> date:
    """Deposits over the 30 days before today, each paid, called back and in the report."""
    seed_sqlite(path, 10_000)
    today = datetime.now(ZONE).date()
    start = datetime.combine(today - timedelta(days=DAYS), datetime.min.time(), ZONE).timestamp()
    step = DAYS * 86_400 / rows
    now = time.time_ns() // 1000

    def at(i: int) -> int:
        return int((start + i * step) * 1e6)

    with sqlite3.connect(path) as db:
        db.executemany(
            "INSERT INTO deposits (project_id, payment_id, customer_id, contract_id, number, amount, currency, state,"
            " paid_amount, created_at, updated_at) VALUES (1234, ?, ?, ?, ?, 10000, 'KZT', 'paid', 10000, ?, ?)",
            ((f"k24_r{i:08d}", customer(i % 10_000), f"B-{i % 10_000}", f"B/{i % 10_000}", at(i), at(i) + 5_000_000)
             for i in range(rows)),
        )  # fmt: skip
        db.executemany(
            "INSERT INTO callbacks (received_at, last_received_at, deliveries, dedupe_key, signature_ok, payment_id,"
            " operation_id, status, operation_status, amount, currency, customer_id, deposit_id, outcome, raw)"
            " VALUES (?, ?, 1, ?, 1, ?, '1', 'success', 'success', 10000, 'KZT', ?, ?, 'applied', '{}')",
            ((at(i) + 5_000_000, at(i) + 5_000_000, f"k24_r{i:08d}|1|success", f"k24_r{i:08d}",
              customer(i % 10_000), f"k24_r{i:08d}") for i in range(rows)),
        )  # fmt: skip
        db.executemany(
            "INSERT INTO platform_operations (operation_id, payment_id, project_id, type, status, method, amount,"
            " currency, customer_id, created_at, completed_at, source, imported_at)"
            " VALUES (?, ?, 1234, 'sale', 'success', 'kassa24', 10000, 'KZT', ?, ?, ?, 'bench', ?)",
            ((f"op{i}", f"k24_r{i:08d}", customer(i % 10_000), at(i), at(i) + 5_000_000, now) for i in range(rows)),
        )  # fmt: skip
        db.executemany(
            "INSERT INTO platform_coverage (project_id, day, source, operations, applied_at, applied_by)"
            " VALUES (1234, ?, 'bench', 1, ?, 'b')",
            (((today - timedelta(days=k)).isoformat(), now) for k in range(DAYS + 1)),
        )
    return today - timedelta(days=1)


CHILD = """
import asyncio, json, resource, sys, time
from datetime import date
from zoneinfo import ZoneInfo
from kassa24_console.config import Settings
from kassa24_console.reconcile.engine import Period, reconcile
from kassa24_console.store import Store

async def main():
    settings = Settings(database_url=sys.argv[1])
    day = date.fromisoformat(sys.argv[2])
    store = Store(settings.database_url)
    await store.open()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    summary = await reconcile(store, settings, Period.of_days(day, day, ZoneInfo(settings.timezone)))
    took = time.perf_counter() - started
    await store.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": took, "peak_mb": peak / 1024, "start_mb": before / 1024,
                      "findings": len(summary.findings)}))

asyncio.run(main())
"""


def measure(path: Path, day: date, code: Path = ROOT) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, f"sqlite:///{path}", day.isoformat()],
        capture_output=True, text=True, check=True, cwd=code, env={"PYTHONPATH": str(code), "PATH": "/usr/bin:/bin"},
    ).stdout  # fmt: skip
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--baseline", type=Path, help="also measure this checkout (e.g. a git worktree of main)")
    args = parser.parse_args()
    path = Path(tempfile.mkdtemp(prefix="k24-reconcile-")) / "r.db"
    day = build(path, args.rows)
    runs = [measure(path, day) for _ in range(3)]
    best = min(runs, key=lambda r: r["seconds"])
    if args.baseline:
        old = min((measure(path, day, args.baseline) for _ in range(3)), key=lambda r: r["seconds"])
        print(f"baseline {args.baseline}: {old['seconds']:.2f} s, peak {old['peak_mb']:.0f} MB")
    text = (
        f"\nReconcile one day ({day}) of a 30-day database, {args.rows:_} deposits, callbacks and platform "
        f"operations: {best['seconds']:.2f} s (best of 3), peak memory {best['peak_mb']:.0f} MB "
        f"({best['start_mb']:.0f} MB before it), {best['findings']:.0f} findings.\n"
    ).replace("_", " ")
    with (ROOT / "benchmarks" / "results.md").open("a") as out:
        out.write(text)
    print(text)


if __name__ == "__main__":
    main()
