"""Engines, schema and the group-committing writer.

Statements are plain synchronous SQLAlchemy Core functions of a ``Connection``; this module
decides where they run so the event loop never waits on slow I/O:

* SQLite reads run inline on a dedicated autocommit connection. An indexed read costs tens
  of microseconds there, while a hop to a driver thread (aiosqlite) costs hundreds; the
  profile behind this choice is in the README (Benchmarks).
* SQLite writes run on one writer thread that takes the write lock up front
  (``BEGIN IMMEDIATE``), so a read-then-write never fails half-way because another process
  wrote first.
* PostgreSQL runs everything on the asyncio engine (asyncpg or psycopg) via ``run_sync``.

All writes of a process go through one :class:`Writer` that commits whatever has queued
up in one transaction: concurrent check_deposits and callbacks share one fsync (group
commit), and each caller is answered only after that commit.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import importlib.util
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, insert, inspect, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from . import models
from .text import storable_row

log = logging.getLogger(__name__)

T = TypeVar("T")
Job = Callable[[Connection], T]

MAX_BUFFERED_TRAFFIC = 50_000


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


def display_url(url: str) -> str:
    """The URL with any password hidden, for headers and logs."""
    return make_url(url).render_as_string(hide_password=True)


def _json_text(value: Any) -> str:
    """JSON columns keep Kazakh and Russian text readable in the database."""
    return json.dumps(value, ensure_ascii=False)


def _sqlite_engine(url: URL, *, writer: bool, busy_timeout_ms: int = 10_000, max_pages: int = 0) -> Engine:
    engine = create_engine(
        url.set(drivername="sqlite+pysqlite"),
        connect_args={"check_same_thread": False},
        json_serializer=_json_text,
        pool_size=1 if writer else 4,
        max_overflow=0 if writer else 4,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (below)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")  # a commit survives power loss
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        if max_pages:
            cursor.execute(f"PRAGMA max_page_count={int(max_pages)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    if writer:
        # Readers stay in autocommit: each statement sees the latest commit, one round trip.
        @event.listens_for(engine, "begin")
        def _on_begin(connection: Connection) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class Database:
    """Where statements run: inline or on the writer thread (SQLite), or on asyncio (PostgreSQL)."""

    def __init__(self, url: str, *, busy_timeout_ms: int = 10_000, max_pages: int = 0) -> None:
        full = async_url(url)
        self.is_sqlite = full.get_backend_name() == "sqlite"
        self._async: AsyncEngine | None = None
        self._reader: Engine | None = None
        self._writer: Engine | None = None
        self._read_connection: Connection | None = None
        self._thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="k24-writer")
        if self.is_sqlite:
            self._reader = _sqlite_engine(full, writer=False, busy_timeout_ms=busy_timeout_ms)
            self._writer = _sqlite_engine(full, writer=True, busy_timeout_ms=busy_timeout_ms, max_pages=max_pages)
        else:
            self._async = create_async_engine(
                full, pool_size=8, max_overflow=8, pool_pre_ping=True, json_serializer=_json_text
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
        if self._writer is not None:
            writer = self._writer

            def _run() -> T:
                with writer.begin() as connection:
                    return body(connection)

            return await asyncio.get_running_loop().run_in_executor(self._thread, _run)
        assert self._async is not None
        async with self._async.begin() as connection:
            return await connection.run_sync(body)

    async def check(self) -> None:
        """Raise unless the database at the configured URL answers with our schema.

        A fresh connection each time: a pooled SQLite connection keeps working on a file
        that was deleted or replaced, which is exactly what a health check must notice.
        """
        probe = select(models.Account.__table__.c.customer_id).limit(1)
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
        self._thread.shutdown(wait=True)
        for engine in (self._reader, self._writer):
            if engine is not None:
                engine.dispose()
        if self._async is not None:
            await self._async.dispose()


MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(connection: Connection) -> Any:
    """Alembic, pointed at our migrations and running on ``connection``."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def create_schema(connection: Connection, target: str = "head") -> bool:
    """Migrate the schema to ``target``; True when the database had none (a first start)."""
    from alembic import command

    found = inspect(connection)
    fresh = not found.has_table(models.Account.__tablename__)
    config = alembic_config(connection)
    if not fresh and not found.has_table("alembic_version"):
        # Made before migrations existed (create_all): say which released schema it holds.
        command.stamp(config, _legacy_revision(found))
    command.upgrade(config, target)
    return fresh


def _legacy_revision(found: Any) -> str:
    if found.has_table("platform_coverage"):
        return "0004"
    if found.has_table("heartbeat"):
        return "0003"
    return "0002" if found.has_table("platform_operations") else "0001"


DEADLOCK_RETRIES = 3
_TRANSIENT_STATES = frozenset({"40P01", "40001"})  # deadlock detected, serialization failure


def _transient(error: BaseException) -> bool:
    original = getattr(error, "orig", None)
    state = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    return state in _TRANSIENT_STATES or "deadlock detected" in str(error)


class JobRefused(Exception):
    """A job decided not to write (a rule said no); its transaction rolls back and the
    caller gets this exception. Nothing is wrong with the database."""


class Writer:
    """One task that commits queued jobs together and answers each after the commit.

    It also knows whether writes work right now (``failing`` holds the reason of the last
    failed commit until one succeeds): the health check reports it.
    """

    def __init__(self, database: Database, flush_interval: float = 0.2) -> None:
        self._db = database
        self._interval = flush_interval
        self._jobs: list[tuple[Job[Any], asyncio.Future[Any]]] = []
        self._traffic: list[dict[str, Any]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.dropped_traffic = 0
        self.failed_writes = 0
        self.failing: str | None = None
        # Called with (jobs, traffic rows) after each group commit (metrics).
        self.on_batch: Callable[[int, int], None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="k24-writer")

    async def submit(self, job: Job[T]) -> T:
        """Run ``job`` in the next group transaction; return its result once committed."""
        if self._closing or self._task is None:
            raise RuntimeError("the store is not accepting writes")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._jobs.append((job, future))
        self._wake.set()
        return await future

    def record_traffic(self, row: dict[str, Any]) -> None:
        """Queue a traffic row; it is written with the next commit or within the interval."""
        if len(self._traffic) >= MAX_BUFFERED_TRAFFIC:
            self._traffic.pop(0)
            self.dropped_traffic += 1
        self._traffic.append(row)

    async def close(self) -> None:
        """Commit what is queued, then stop."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
            jobs, self._jobs = self._jobs, []
            traffic, self._traffic = self._traffic, []
            if jobs or traffic:
                await self._commit(jobs, traffic)
            if self._closing and not self._jobs and not self._traffic:
                return

    def _failed(self, error: BaseException) -> None:
        self.failed_writes += 1
        self.failing = f"{type(error).__name__}: {error}".splitlines()[0][:200]

    async def _commit(self, jobs: list[tuple[Job[Any], asyncio.Future[Any]]], traffic: list[dict[str, Any]]) -> None:
        def batch(connection: Connection) -> list[Any]:
            results = [job(connection) for job, _ in jobs]
            if traffic:
                connection.execute(insert(models.Traffic), traffic)
            return results

        try:
            results = await self._db.transaction(batch)
        except Exception as error:
            # One job's failure must not sink the others: each runs again on its own.
            if not isinstance(error, JobRefused):
                log.warning("group commit of %d jobs failed; retrying one by one", len(jobs), exc_info=True)
            await self._commit_one_by_one(jobs, traffic)
            return
        self.failing = None
        if self.on_batch is not None:
            self.on_batch(len(jobs), len(traffic))
        for (_, future), result in zip(jobs, results, strict=True):
            if not future.done():
                future.set_result(result)

    async def _commit_one_by_one(
        self, jobs: list[tuple[Job[Any], asyncio.Future[Any]]], traffic: list[dict[str, Any]]
    ) -> None:
        for job, future in jobs:
            try:
                result = await self._alone(job)
            except Exception as error:  # the caller answers 500/503; nothing half-written
                if not isinstance(error, JobRefused):
                    self._failed(error)
                if not future.done():
                    future.set_exception(error)
            else:
                self.failing = None
                if not future.done():
                    future.set_result(result)
        if traffic:
            await self._insert_traffic_isolated(traffic)

    async def _alone(self, job: Job[T]) -> T:
        """``job`` in a transaction of its own, again when the database chose it as the
        victim of a deadlock (two processes' group commits can lock a contract and a
        callback in opposite orders): the victim was rolled back whole, so it is safe."""
        for attempt in range(DEADLOCK_RETRIES + 1):
            try:
                return await self._db.transaction(job)
            except Exception as error:
                if attempt == DEADLOCK_RETRIES or not _transient(error):
                    raise
                await asyncio.sleep(0.02 * (attempt + 1))
        raise AssertionError("unreachable")

    async def _insert_traffic_isolated(self, traffic: list[dict[str, Any]]) -> None:
        """Traffic rows whose batch failed: again with all text made storable, then one by
        one, so one row that cannot be stored never takes the others with it."""

        def insert_rows(rows: list[dict[str, Any]]) -> Job[None]:
            return lambda connection: connection.execute(insert(models.Traffic), rows)

        cleaned = [storable_row(row) for row in traffic]
        try:
            await self._db.transaction(insert_rows(cleaned))
            self.failing = None
            return
        except Exception as error:
            self._failed(error)
        for row in cleaned:
            try:
                await self._db.transaction(insert_rows([row]))
            except Exception:
                self.dropped_traffic += 1
                log.error("dropped a traffic record: database write failed")
