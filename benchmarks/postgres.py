"""A throwaway PostgreSQL server for the benchmark (Debian's ``postgresql`` binaries),
seeded with the same accounts and contracts as the SQLite runs."""

from __future__ import annotations

import asyncio
import contextlib
import glob
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from harness import DUE, customer, free_port


def _tool(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))), None)
    if not found:
        raise SystemExit(f"{name} not found: apt-get install postgresql (or --no-postgres)")
    return found


def _as_postgres(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


async def _seed(url: str, rows: int) -> None:
    from kassa24_console.store import Store

    store = Store(url)
    await store.open()
    await store.close()
    import asyncpg

    connection = await asyncpg.connect(url.replace("postgresql://", "postgres://"))
    try:
        await connection.copy_records_to_table(
            "accounts",
            records=[(1234, customer(i), None, "KZT", f"Bench {i}", 0) for i in range(rows)],
            columns=["project_id", "customer_id", "additional_customer_id", "currency", "name", "updated_at"],
        )
        await connection.copy_records_to_table(
            "contracts",
            records=[
                (1234, f"B-{i}", customer(i), f"B/{i}", DUE, None, 0, "", json.dumps({"customer_name": f"Bench {i}"}),
                 0, 1)
                for i in range(rows)
            ],
            columns=["project_id", "id", "customer_id", "number", "payment", "min_payment", "status_code",
                     "status_text", "info", "updated_at", "version"],
        )  # fmt: skip
    finally:
        await connection.close()


@contextlib.contextmanager
def temporary_postgres(rows: int) -> Iterator[str]:
    """A server on a free port holding a seeded database; yields its URL."""
    home = Path(tempfile.mkdtemp(prefix="k24-bench-pg-"))  # its own: the server's user must reach it
    if os.geteuid() == 0:
        shutil.chown(home, "postgres")
    data, port = home / "data", free_port()
    subprocess.run(_as_postgres([_tool("initdb"), "-D", str(data), "--auth=trust", "-U", "postgres"]),
                   check=True, capture_output=True)  # fmt: skip
    options = f"-p {port} -k {home} -c listen_addresses=127.0.0.1 -c max_connections=200"
    start = [_tool("pg_ctl"), "-D", str(data), "-o", options, "-l", str(home / "log"), "-w", "start"]
    subprocess.run(_as_postgres(start), check=True, capture_output=True)
    try:
        base = f"postgresql://postgres@127.0.0.1:{port}"
        create = [_tool("psql"), f"{base}/postgres", "-c", "CREATE DATABASE bench"]
        subprocess.run(create, check=True, capture_output=True)
        url = f"{base}/bench"
        asyncio.run(_seed(url, rows))
        yield url
    finally:
        stop = [_tool("pg_ctl"), "-D", str(data), "-m", "fast", "stop"]
        subprocess.run(_as_postgres(stop), capture_output=True)
        shutil.rmtree(home, ignore_errors=True)
