"""A throwaway PostgreSQL server for the tests (the ``postgres`` fixture: import it into the
test module), a database on it, ``serve`` processes on it, and a value read from it.

A test's database is copied from one migrated once per server (``CREATE DATABASE … TEMPLATE``,
a file copy): migrating each (Alembic's 13 steps, in the first ``serve`` or store to open it)
cost a second or more of CPU each. A test that migrates for itself asks for an empty one."""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from kassa24_console.store import Store
from kassa24_console.store.db import create_schema
from tests.support.common import free_port
from tests.support.serve import Server, serve_env, wait_healthy


def pg_tool(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))), None)
    assert found, f"{name} not found: install the postgresql Debian package (.ci/run does)"
    return found


def as_postgres(args: list[str]) -> list[str]:
    """initdb and the server refuse to run as root; CI is root."""
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    """A throwaway PostgreSQL server on a free port; yields a URL prefix to add a db name to."""
    home = Path(tempfile.mkdtemp(prefix="k24-pg-"))
    if os.geteuid() == 0:
        shutil.chown(home, "postgres")
    data, port = home / "data", free_port()
    # A UTF-8 locale: case-insensitive search of Cyrillic names (pg_trgm, ILIKE) needs one.
    initdb = [pg_tool("initdb"), "-D", str(data), "--auth=trust", "-U", "postgres", "--locale=C.UTF-8", "-E", "UTF8"]
    subprocess.run(
        as_postgres(initdb),
        check=True,
        capture_output=True,
        timeout=120,
    )
    options = f"-p {port} -k {home} -c listen_addresses=127.0.0.1"
    subprocess.run(
        as_postgres([pg_tool("pg_ctl"), "-D", str(data), "-o", options, "-l", str(home / "log"), "-w", "start"]),
        check=True,
        capture_output=True,
        timeout=120,
    )
    try:
        url = f"postgresql://postgres@127.0.0.1:{port}"
        asyncio.run(_migrate(create_database(url, HEAD, migrated=False)))
        yield url
    finally:
        subprocess.run(
            as_postgres([pg_tool("pg_ctl"), "-D", str(data), "-m", "fast", "stop"]), capture_output=True, timeout=60
        )
        shutil.rmtree(home, ignore_errors=True)


HEAD = "k24_head"  # the database every other is copied from: migrated to the newest revision


async def _migrate(url: str) -> None:
    store = Store(url)
    try:
        await store.db.transaction(lambda connection: create_schema(connection))
    finally:
        await store.db.dispose()  # no session left open on it: a template must have none


def create_database(postgres: str, name: str, *, migrated: bool = True) -> str:
    """A new database ``name``: migrated to the head (a copy of ``HEAD``), or empty."""
    template = f" TEMPLATE {HEAD}" if migrated else ""
    subprocess.run(
        [pg_tool("psql"), f"{postgres}/postgres", "-c", f"CREATE DATABASE {name}{template}"],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return f"{postgres}/{name}"


def serve_on(tmp: Path, url: str, name: str, **extra: str) -> Server:
    port = free_port()
    env = {**serve_env(tmp / f"{name}.db", port), "KASSA24_DATABASE_URL": url, **extra}
    log = open(tmp / f"{name}.stderr", "ab")  # noqa: SIM115 - lives as long as the process
    proc = subprocess.Popen(
        [sys.executable, "-m", "kassa24_console", "serve"], env=env, stdout=log, stderr=log, cwd=tmp
    )
    server = Server(f"http://127.0.0.1:{port}", tmp / f"{name}.db", 2, env, proc=proc)
    wait_healthy(server.url, proc)
    return server


class PgSeed:
    """Enough of ``Server`` for ``new_customer`` to seed a PostgreSQL database."""

    def __init__(self, url: str) -> None:
        self.db_url = url


async def pg_scalar(url: str, sql: str, **params: object) -> object:
    store = Store(url)
    try:
        return await store.db.read(lambda connection: connection.execute(text(sql), params).scalar_one())
    finally:
        await store.db.dispose()
