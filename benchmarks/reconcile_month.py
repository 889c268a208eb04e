"""Reconciling a month: a 30-day, 100 000-operation platform report applied and compared,
then the month exported to XLSX and to CSV; time and each process's peak memory.

The database holds ``--rows`` deposits spread over November 2026 (Asia/Almaty), each paid
with a success callback. The report has an operation for each, in the two forms desks send:
UTF-8 with ``,`` and English words, and Windows-1251 with ``;``, Russian type and status
words and amounts like ``10 000,00``. Every command runs as an operator runs it
(``kassa24-console reconcile …``) in a fresh process on a fresh copy of the database;
``--baseline DIR`` runs the same on another checkout (e.g. ``git archive main``) in the same
run, for before/after numbers, and checks that both checkouts gave the same answers: the
command's printed summary, the findings kept and the operations stored after each report,
and the bytes of each export (an XLSX's parts, less its creation time), by SHA-256. A few
disagreements are planted (an operation missing, amounts that differ, an operation we have
no deposit for) so that the findings and the exports' finding columns are not empty. Usage::

    .venv/bin/python benchmarks/reconcile_month.py [--rows 100000] [--baseline /tmp/k24-main]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
ZONE = ZoneInfo("Asia/Almaty")
FIRST, LAST = "2026-11-01", "2026-11-30"
HEADER = (
    "Operation ID", "Payment ID", "Project ID", "Operation type", "Operation status", "Payment method", "Amount",
    "Currency", "Customer ID", "Created", "Completed",
)  # fmt: skip
SCHEMA = "import sys; from sqlalchemy import create_engine; from kassa24_console.store.db import create_schema\n" \
    "e = create_engine('sqlite:///' + sys.argv[1])\nwith e.begin() as c: create_schema(c)\n"  # fmt: skip


def customer(i: int) -> str:
    return f"{7_000_000_000 + i % 10_000}"


def moments(rows: int) -> list[int]:
    start = datetime.fromisoformat(f"{FIRST} 00:00:00").replace(tzinfo=ZONE).timestamp()
    step = 30 * 86_400 / rows
    return [int((start + i * step) * 1e6) for i in range(rows)]


def build(path: Path, rows: int, code: Path) -> None:
    """The schema of ``code``'s version, 10 000 accounts, and ``rows`` paid deposits."""
    subprocess.run([sys.executable, "-c", SCHEMA, str(path)], check=True, env=_env(code), cwd=code)
    at = moments(rows)
    with sqlite3.connect(path) as db:
        db.executemany(
            "INSERT INTO accounts (project_id, customer_id, currency, name, updated_at) VALUES (1234, ?, 'KZT', ?, 0)",
            ((customer(i), f"Bench {i}") for i in range(10_000)),
        )
        db.executemany(
            "INSERT INTO contracts (project_id, id, customer_id, number, payment, status_code, status_text, updated_at,"
            " version) VALUES (1234, ?, ?, ?, 1000000000000, 0, '', 0, 1)",
            ((f"B-{i}", customer(i), f"B/{i}") for i in range(10_000)),
        )
        db.executemany(
            "INSERT INTO deposits (project_id, payment_id, customer_id, contract_id, number, amount, currency, state,"
            " paid_amount, created_at, updated_at) VALUES (1234, ?, ?, ?, ?, 1000000, 'KZT', 'paid', 1000000, ?, ?)",
            ((f"k24_m{i:08d}", customer(i), f"B-{i % 10_000}", f"B/{i % 10_000}", at[i], at[i] + 5_000_000)
             for i in range(rows)),
        )  # fmt: skip
        db.executemany(
            "INSERT INTO callbacks (received_at, last_received_at, deliveries, dedupe_key, signature_ok, payment_id,"
            " operation_id, status, operation_status, amount, currency, customer_id, deposit_id, outcome, raw)"
            " VALUES (?, ?, 1, ?, 1, ?, ?, 'success', 'success', 1000000, 'KZT', ?, ?, 'applied', '{}')",
            ((at[i] + 5_000_000, at[i] + 5_000_000, f"k24_m{i:08d}|{i}|success", f"k24_m{i:08d}", str(i),
              customer(i), f"k24_m{i:08d}") for i in range(rows)),
        )  # fmt: skip


MISSING, OTHER_AMOUNT, UNKNOWN = 9_973, 7_919, 11_113  # every so many: a planted disagreement


def write_report(path: Path, rows: int, russian: bool) -> None:
    """The platform's record of the month: one successful sale per deposit, but for a few
    planted disagreements (an operation missing, another amount, a payment we never issued)."""
    at = moments(rows)
    words = (";", "Продажа", "Успешно", "10 000,00", "10 001,00") if russian else (
        ",", "sale", "success", "10000.00", "10001.00")  # fmt: skip
    sep, sale, success, amount, other = words
    with path.open("w", encoding="cp1251" if russian else "utf-8", newline="") as out:
        out.write(sep.join(HEADER) + "\n")
        for i in range(rows):
            if i % MISSING == MISSING - 1:
                continue
            created = datetime.fromtimestamp(at[i] / 1e6 + 3, ZONE).strftime("%Y-%m-%d %H:%M:%S")
            paid = other if i % OTHER_AMOUNT == 1 else amount
            payment = f"k24_x{i:08d}" if i % UNKNOWN == 2 else f"k24_m{i:08d}"
            out.write(sep.join((str(900_000 + i), payment, "1234", sale, success, "Kassa24", paid, "KZT",
                                customer(i), created, created)) + "\n")  # fmt: skip


def _env(code: Path) -> dict[str, str]:
    return {"PYTHONPATH": str(code), "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "KASSA24_LOG_FILE": "/dev/null"}


def run(code: Path, database: Path, *args: str) -> tuple[tuple[float, float, float], bytes]:
    """One ``reconcile`` command: (wall seconds, CPU seconds (user + system: what the command
    itself cost, whatever else the machine runs), the process's peak memory in MB), and
    what it printed."""
    command = [sys.executable, "-m", "kassa24_console", "--database-url", f"sqlite:///{database}", "reconcile"]
    started = time.perf_counter()
    with tempfile.TemporaryFile() as printed, tempfile.TemporaryFile() as errors:
        process = subprocess.Popen([*command, *args], env=_env(code), cwd=code, stdout=printed, stderr=errors)
        _, status, usage = os.wait4(process.pid, 0)
        took = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        errors.seek(0)
        printed.seek(0)
        if process.returncode not in (0, 1):
            raise RuntimeError(f"{' '.join(args)}: exit {process.returncode}: {errors.read().decode().strip()[:500]}")
        output = printed.read()
    return (took, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024), output


def _digest(*parts: bytes) -> str:
    hashed = hashlib.sha256()
    for part in parts:
        hashed.update(len(part).to_bytes(8, "big") + part)
    return hashed.hexdigest()[:16]


def stored(database: Path) -> str:
    """The findings kept and the operations stored, less ids and the clock's times."""
    with sqlite3.connect(database) as db:
        findings = db.execute(
            "SELECT key, kind, payment_id, evidence, action, state, note, resolved_by, occurred_at"
            " FROM mismatches ORDER BY key"
        ).fetchall()
        operations = db.execute(
            "SELECT operation_id, payment_id, project_id, type, status, method, amount, currency, customer_id,"
            " created_at, completed_at, source FROM platform_operations ORDER BY operation_id"
        ).fetchall()
        coverage = db.execute("SELECT day, source, operations FROM platform_coverage ORDER BY day, source").fetchall()
    return _digest(repr(findings).encode(), repr(operations).encode(), repr(coverage).encode())


def exported(path: Path) -> str:
    """A CSV's bytes; an XLSX's parts but its creation time (docProps/core.xml)."""
    if path.suffix == ".csv":
        return _digest(path.read_bytes())
    with zipfile.ZipFile(path) as book:
        names = sorted(n for n in book.namelist() if n != "docProps/core.xml")
        return _digest(*(name.encode() + b"\0" + book.read(name) for name in names))


Measured = tuple[dict[str, tuple[float, float, float]], dict[str, str]]


def measure(code: Path, rows: int, work: Path) -> Measured:
    """Every step on ``code``: the report in each encoding, then the exports; the times and
    a digest of each step's answer."""
    template = work / f"template-{code.name}.db"
    build(template, rows, code)
    results, digests = {}, {}
    for name, russian in (("utf-8", False), ("cp1251", True)):
        report = work / f"report-{name}.csv"
        if not report.exists():
            write_report(report, rows, russian)
        database = work / f"{name}-{code.name}.db"
        shutil.copy(template, database)
        step = f"reconcile {name}"
        results[step], printed = run(code, database, "--report", str(report), "--from", FIRST, "--to", LAST)
        digests[step] = _digest(printed, stored(database).encode())
    database = work / f"utf-8-{code.name}.db"
    for suffix in ("xlsx", "csv"):
        export = work / f"month-{code.name}.{suffix}"
        step = f"export {suffix}"
        results[step], printed = run(code, database, "--from", FIRST, "--to", LAST, "--export", str(export))
        digests[step] = _digest(printed.replace(str(export).encode(), b"FILE"), exported(export).encode())
    return results, digests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--baseline", type=Path, help="also measure this checkout (e.g. git archive of main)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="k24-month-"))
    try:
        runs = [("this checkout", measure(ROOT, args.rows, work))]
        if args.baseline:
            runs.insert(0, (f"baseline {args.baseline}", measure(args.baseline.resolve(), args.rows, work)))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    count = f"{args.rows:_}".replace("_", " ")
    lines = [f"\nA month: {count} operations over 30 days (`benchmarks/reconcile_month.py`)\n"]
    lines.append("| code | step | wall s | CPU s | peak MB | answer (SHA-256) |\n|---|---|---:|---:|---:|---|")
    for label, (results, digests) in runs:
        for step, (seconds, cpu, peak) in results.items():
            lines.append(f"| {label} | {step} | {seconds:.1f} | {cpu:.1f} | {peak:.0f} | {digests[step]} |")
    differ = [step for step, digest in runs[-1][1][1].items() if runs[0][1][1][step] != digest]
    if len(runs) > 1:
        same = "the same answers as the baseline" if not differ else f"ANSWERS DIFFER from the baseline: {differ}"
        lines.append(f"\nThis checkout gave {same}.")
    text = "\n".join(lines) + "\n"
    print(text)
    with (ROOT / "benchmarks" / "results.md").open("a") as out:
        out.write(text)
    if differ:
        sys.exit(1)


if __name__ == "__main__":
    main()
