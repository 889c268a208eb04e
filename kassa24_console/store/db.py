"""Engines, schema, and where statements run.

Statements are plain synchronous SQLAlchemy Core functions of a ``Connection``; this module
decides where they run so the event loop never waits on slow I/O:

* SQLite reads run inline on a dedicated autocommit connection. An indexed read costs tens
  of microseconds there, while a hop to a driver thread (aiosqlite) costs hundreds; the
  profile behind this choice is in the README (Benchmarks).
* SQLite writes take the write lock up front (``BEGIN IMMEDIATE``, :mod:`.sqlite`), so a
  read-then-write never fails half-way because another process wrote first. A group of
  small payment writes runs its statements inline and commits (the fsync) on the writer
  thread; anything else, or a group that finds the lock held, runs whole on the thread.
* PostgreSQL runs everything on the asyncio engine (asyncpg or psycopg) via ``run_sync``.

All writes of a process go through one :class:`~.writer.Writer` (group commit).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib.util
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, inspect, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from ..config import DEMO_PROJECT_ID
from . import models
from .fresh import build, head
from .sqlite import Checkpointer, WriteConnection, driver, json_text, sqlite_engine, truncate_wal

log = logging.getLogger(__name__)

T = TypeVar("T")
Job = Callable[[Connection], T]


def now_us() -> int:
    """Wall-clock time as UTC epoch microseconds, the store's time unit."""
    return time.time_ns() // 1000


def async_url(url: str) -> URL:
    """A URL as a person writes it, with the async driver picked for them."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            path = Path(database).expanduser()
            parsed = parsed.set(database=str(path))
        return parsed.set(drivername="sqlite+aiosqlite")
    if backend in ("postgresql", "postgres"):
        driver = "asyncpg" if importlib.util.find_spec("asyncpg") else "psycopg"
        return parsed.set(drivername=f"postgresql+{driver}")
    raise ValueError(f"unsupported database: {backend} (use sqlite:/// or postgresql://)")


def create_private_file(url: str) -> None:
    """Make a new SQLite file (and its directory) readable by its owner only; SQLite gives
    its -wal and -shm files the same mode. An existing file is left as it is."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return
    path = Path(parsed.database).expanduser()
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))


def sqlite_file_missing(url: str) -> Path | None:
    """The path of a SQLite database file that does not exist (None for others)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    path = Path(parsed.database).expanduser()
    return None if path.is_file() else path


async def table_names(url: str) -> set[str]:
    """The tables the database at ``url`` holds (none: a SQLite file not yet made is empty)."""
    if sqlite_file_missing(url) is not None:
        return set()
    engine = create_async_engine(async_url(url))
    try:
        async with engine.connect() as connection:
            return set(await connection.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


def display_url(url: str) -> str:
    """The URL with any password hidden, for headers and logs."""
    return make_url(url).render_as_string(hide_password=True)


class Database:
    """Where statements run: inline or on the writer thread (SQLite), or on asyncio (PostgreSQL)."""

    def __init__(
        self, url: str, *, busy_timeout_ms: int = 10_000, max_pages: int = 0, wal_limit_bytes: int = 16 * 1024 * 1024
    ) -> None:
        full = async_url(url)
        self.is_sqlite = full.get_backend_name() == "sqlite"
        self.has_asyncpg = full.drivername == "postgresql+asyncpg"
        self._async: AsyncEngine | None = None
        self._reader: Engine | None = None
        self._writer: Engine | None = None
        self._read_connection: Connection | None = None
        self._writes: WriteConnection | None = None
        self._checkpoints: Checkpointer | None = None
        self._in_thread = False  # a write transaction is running on the writer thread
        self._thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="k24-writer")
        if self.is_sqlite:
            limit = wal_limit_bytes
            self._reader = sqlite_engine(full, writer=False, busy_timeout_ms=busy_timeout_ms, wal_limit=limit)
            self._writer = sqlite_engine(
                full, writer=True, busy_timeout_ms=busy_timeout_ms, max_pages=max_pages, wal_limit=limit
            )
            self._writes = WriteConnection(self._writer, busy_timeout_ms)
            self._checkpoints = Checkpointer(self._reader, str(full.database), limit, self._truncate_wal)
        else:
            self._async = create_async_engine(
                # A pool as large as the requests one process answers at once: smaller, and
                # connections are opened and closed under load (measured: a seventh of the time).
                full,
                pool_size=24,
                max_overflow=8,
                pool_pre_ping=True,
                json_serializer=json_text,
            )

    async def read(self, query: Callable[..., T], *args: Any) -> T:
        """Run a read-only ``query(connection, *args)``: small, indexed reads only."""
        if self._reader is not None:
            if self._read_connection is None:
                self._read_connection = self._reader.connect()
            try:
                return query(self._read_connection, *args)
            except Exception:
                self._read_connection.invalidate()
                self._read_connection = None
                raise
        assert self._async is not None
        async with self._async.connect() as connection:
            return await connection.run_sync(query, *args)

    async def version(self) -> int | str | None:
        """Something that changes whenever anyone commits to the database: SQLite's
        ``data_version`` (microseconds, on the reader connection, which never writes), the
        WAL position on PostgreSQL; None when it cannot be told (then: assume a change)."""
        if self._reader is not None:
            return await self.read(_data_version)
        try:
            return await self.read(_wal_position)
        except Exception:
            return None

    async def read_off_loop(self, query: Callable[..., T], *args: Any) -> T:
        """Run a read that may scan (console paging, reports) without blocking the loop."""
        if self._reader is not None:
            reader = self._reader

            def _run() -> T:
                with reader.connect() as connection:
                    return query(connection, *args)

            return await asyncio.to_thread(_run)
        return await self.read(query, *args)

    async def transaction(self, body: Callable[[Connection], T]) -> T:
        """Run ``body`` in one committed transaction, off the event loop."""
        if self._writes is not None:
            self._in_thread = True
            try:
                return await asyncio.get_running_loop().run_in_executor(self._thread, self._writes.run, body)
            finally:
                self._in_thread = False
                self.committed()
        assert self._async is not None
        async with self._async.begin() as connection:
            return await connection.run_sync(body)

    def run_inline(self, body: Callable[[Connection], T]) -> tuple[bool, T | None]:
        """SQLite: ``body`` on the event loop, in a transaction begun without waiting for the
        lock; :meth:`commit_inline` commits it. ``(False, None)`` when the lock is held
        (another process, or a transaction on the writer thread): use :meth:`transaction`.
        Only for small jobs of indexed statements; an exception rolls back."""
        if self._writes is None or self._in_thread or not self._writes.begin(wait=False):
            return False, None
        try:
            return True, body(self._writes.connection)
        except BaseException:
            self._writes.rollback()
            raise

    async def commit_inline(self) -> None:
        """Commit what :meth:`run_inline` wrote: the fsync, on the writer thread."""
        assert self._writes is not None
        self._in_thread = True
        try:
            await asyncio.get_running_loop().run_in_executor(self._thread, self._writes.commit)
        finally:
            self._in_thread = False
            self.committed()

    async def _truncate_wal(self) -> bool:
        """Cut the WAL on the writer thread, between two of our transactions."""
        writes = self._writes
        assert writes is not None
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, lambda: truncate_wal(driver(writes.connection), 2_000))

    def committed(self) -> None:
        """After a write transaction: the WAL is copied back in the background (SQLite)."""
        if self._checkpoints is not None:
            self._checkpoints.soon()

    async def check(self) -> None:
        """Raise unless the database at the configured URL answers with our schema.

        A fresh connection each time: a pooled SQLite connection keeps working on a file
        that was deleted or replaced, which is exactly what a health check must notice.
        """
        probe = select(models.table_of(models.Account).c.customer_id).limit(1)
        if self._reader is not None:
            url = self._reader.url

            def _run() -> None:
                if url.database and url.database != ":memory:" and not Path(url.database).is_file():
                    raise FileNotFoundError(f"no database file at {url.database}")
                engine = create_engine(url, poolclass=NullPool)
                try:
                    with engine.connect() as connection:
                        connection.exec_driver_sql("PRAGMA query_only=1")
                        connection.execute(probe).all()
                finally:
                    engine.dispose()

            await asyncio.to_thread(_run)
            return
        assert self._async is not None
        async with self._async.connect() as connection:
            await connection.execute(probe)

    async def dispose(self) -> None:
        if self._read_connection is not None:
            self._read_connection.close()
            self._read_connection = None
        if self._checkpoints is not None:
            await self._checkpoints.close()
        self._thread.shutdown(wait=True)
        if self._writes is not None:
            self._writes.close()
        for engine in (self._reader, self._writer):
            if engine is not None:
                engine.dispose()
        if self._async is not None:
            await self._async.dispose()


def _data_version(connection: Connection) -> int:
    return driver(connection).execute("PRAGMA data_version").fetchone()[0]


def _wal_position(connection: Connection) -> str:
    return connection.exec_driver_sql("SELECT pg_current_wal_insert_lsn()::text").scalar_one()


MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(connection: Connection, project_id: int | None = None) -> Any:
    """Alembic, pointed at our migrations and running on ``connection``; ``project_id`` is
    the project existing rows belong to when migration 0011 gives every record one."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    config.attributes["project_id"] = project_id
    return config


def _at_head(connection: Connection) -> bool:
    """The database is already migrated to the newest revision: nothing for Alembic to do
    (and importing Alembic is a quarter of a second a command)."""
    if not inspect(connection).has_table("alembic_version"):
        return False
    stamped = [row[0] for row in connection.exec_driver_sql("SELECT version_num FROM alembic_version")]
    return len(stamped) == 1 and stamped[0] == head()


def create_schema(connection: Connection, target: str = "head", project_id: int | None = None) -> bool:
    """Migrate the schema to ``target``; True when the database had none (a first start).
    ``project_id``: the configured (first) project, which rows made before projects join."""
    if target == "head" and _at_head(connection):
        return False
    found = inspect(connection)
    fresh = not found.has_table(models.Account.__tablename__)
    empty_sqlite = connection.dialect.name == "sqlite" and not found.get_table_names()
    project = DEMO_PROJECT_ID if project_id is None else project_id
    if target == "head" and empty_sqlite and build(connection, head(), project):  # the migrations' result at once
        return True
    command = _alembic_command()
    config = alembic_config(connection, project_id)
    if not fresh and not found.has_table("alembic_version"):
        # Made before migrations existed (create_all): say which released schema it holds.
        command.stamp(config, _legacy_revision(found))
    command.upgrade(config, target)
    return fresh


def _alembic_command() -> Any:
    """``alembic.command``, imported here: only a database that must migrate pays for Alembic."""
    from alembic import command

    return command


def _legacy_revision(found: Any) -> str:
    if found.has_table("alerts") and any(column["name"] == "project_id" for column in found.get_columns("alerts")):
        return "0013"
    if any(column["name"] == "payment_id" for column in found.get_columns("traffic")):
        return "0012"
    if any(column["name"] == "project_id" for column in found.get_columns("accounts")):
        return "0011"
    if found.has_table("table_changes"):
        return "0010"
    if found.has_table("contract_search"):
        return "0009"
    if found.has_table("alerts"):
        return "0008"
    if any(column["name"] == "credit" for column in found.get_columns("contracts")):
        return "0007"
    if any(index["name"] == "ix_callbacks_last_received" for index in found.get_indexes("callbacks")):
        return "0005"
    if found.has_table("platform_coverage"):
        return "0004"
    if found.has_table("heartbeat"):
        return "0003"
    return "0002" if found.has_table("platform_operations") else "0001"
