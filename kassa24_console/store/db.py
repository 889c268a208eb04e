"""Engines, schema and the group-committing writer.

SQLite gets two engines: a pool of readers and a single writer connection that takes the
write lock up front (``BEGIN IMMEDIATE``), so a read-then-write never fails half-way
because another process wrote first. All writes of this process go through one
:class:`Writer` task that commits whatever has queued up in one transaction: concurrent
check_deposits and callbacks share one fsync (group commit), and each caller is answered
only after that commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event, insert
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlmodel import SQLModel

from . import models

log = logging.getLogger(__name__)

T = TypeVar("T")
Job = Callable[[AsyncConnection], Awaitable[T]]

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
            path.parent.mkdir(parents=True, exist_ok=True)
            parsed = parsed.set(database=str(path))
        return parsed.set(drivername="sqlite+aiosqlite")
    if backend in ("postgresql", "postgres"):
        driver = "asyncpg" if importlib.util.find_spec("asyncpg") else "psycopg"
        return parsed.set(drivername=f"postgresql+{driver}")
    raise ValueError(f"unsupported database: {backend} (use sqlite:/// or postgresql://)")


def display_url(url: str) -> str:
    """The URL with any password hidden, for headers and logs."""
    return make_url(url).render_as_string(hide_password=True)


def _sqlite_pragmas(engine: AsyncEngine, *, writer: bool) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves (pysqlite's implicit transactions are too late).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")  # a commit survives power loss
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    if writer:
        # Readers run each statement on its own (autocommit), one round trip per read.
        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(connection: Any) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def _json_text(value: Any) -> str:
    """JSON columns keep Kazakh and Russian text readable in the database."""
    return json.dumps(value, ensure_ascii=False)


def make_engines(url: str) -> tuple[AsyncEngine, AsyncEngine]:
    """(reader, writer) engines for ``url``."""
    full = async_url(url)
    if full.get_backend_name() == "sqlite":
        reader = create_async_engine(full, pool_size=4, max_overflow=4, json_serializer=_json_text)
        writer = create_async_engine(full, pool_size=1, max_overflow=0, json_serializer=_json_text)
        _sqlite_pragmas(reader, writer=False)
        _sqlite_pragmas(writer, writer=True)
        return reader, writer
    engine = create_async_engine(full, pool_size=8, max_overflow=8, pool_pre_ping=True, json_serializer=_json_text)
    return engine, engine


async def create_schema(engine: AsyncEngine) -> bool:
    """Create missing tables; True when the database had none (a first start)."""

    def _create(sync_connection: Any) -> bool:
        from sqlalchemy import inspect

        fresh = not inspect(sync_connection).has_table(models.Account.__tablename__)
        SQLModel.metadata.create_all(sync_connection)
        return fresh

    async with engine.begin() as connection:
        return await connection.run_sync(_create)


class Writer:
    """One task that commits queued jobs together and answers each after the commit."""

    def __init__(self, engine: AsyncEngine, flush_interval: float = 0.2) -> None:
        self._engine = engine
        self._interval = flush_interval
        self._jobs: list[tuple[Job[Any], asyncio.Future[Any]]] = []
        self._traffic: list[dict[str, Any]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._listeners: list[Callable[[], None]] = []
        self.dropped_traffic = 0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="k24-writer")

    def on_commit(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after each commit (the in-process nudge to look now)."""
        self._listeners.append(listener)

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
                for listener in self._listeners:
                    listener()
            if self._closing and not self._jobs and not self._traffic:
                return

    async def _commit(self, jobs: list[tuple[Job[Any], asyncio.Future[Any]]], traffic: list[dict[str, Any]]) -> None:
        try:
            async with self._engine.begin() as connection:
                results = [await job(connection) for job, _ in jobs]
                if traffic:
                    await connection.execute(insert(models.Traffic), traffic)
        except Exception:
            log.warning("group commit of %d jobs failed; retrying one by one", len(jobs), exc_info=True)
            await self._commit_one_by_one(jobs, traffic)
            return
        for (_, future), result in zip(jobs, results, strict=True):
            if not future.done():
                future.set_result(result)

    async def _commit_one_by_one(
        self, jobs: list[tuple[Job[Any], asyncio.Future[Any]]], traffic: list[dict[str, Any]]
    ) -> None:
        for job, future in jobs:
            try:
                async with self._engine.begin() as connection:
                    result = await job(connection)
            except Exception as error:  # the caller answers 500/503; nothing half-written
                if not future.done():
                    future.set_exception(error)
            else:
                if not future.done():
                    future.set_result(result)
        if traffic:
            try:
                async with self._engine.begin() as connection:
                    await connection.execute(insert(models.Traffic), traffic)
            except Exception:
                self.dropped_traffic += len(traffic)
                log.error("dropped %d traffic records: database write failed", len(traffic))
