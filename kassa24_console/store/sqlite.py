"""SQLite: engines with our pragmas, and the one connection a process writes through.

Writes take the write lock up front (``BEGIN IMMEDIATE``), so a read-then-write never
fails half-way because another process wrote first. The write connection can begin a
transaction without waiting: the writer then runs a group's statements on the event loop,
where they cost microseconds, and only the commit (the fsync) goes to its thread. Run from
a thread instead, every statement gives up the interpreter and must win it back from a
busy loop (measured: a traffic row 142 µs under load instead of 4 µs).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL


def json_text(value: Any) -> str:
    """JSON columns keep Kazakh and Russian text readable in the database."""
    return json.dumps(value, ensure_ascii=False)


def driver(connection: Connection) -> Any:
    """The sqlite3 connection under a SQLAlchemy one: statements built once run on it
    directly (in the same transaction), skipping SQLAlchemy's execution path."""
    return connection.connection.dbapi_connection


def sqlite_engine(
    url: URL, *, writer: bool, busy_timeout_ms: int = 10_000, max_pages: int = 0, wal_limit: int = 16 * 1024 * 1024
) -> Engine:
    engine = create_engine(
        url.set(drivername="sqlite+pysqlite"),
        connect_args={"check_same_thread": False},
        json_serializer=json_text,
        pool_size=1 if writer else 4,
        max_overflow=0 if writer else 4,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Readers stay in autocommit (each statement sees the latest commit, one round
        # trip); the writer issues BEGIN itself (WriteConnection).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")  # a commit survives power loss
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        # After a checkpoint that resets the log, SQLite cuts the file back to this size
        # (without it the -wal file keeps the largest size it ever had).
        cursor.execute(f"PRAGMA journal_size_limit={int(wal_limit)}")
        if max_pages:
            cursor.execute(f"PRAGMA max_page_count={int(max_pages)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


class WriteConnection:
    """The writer engine's one connection, held open; transactions begun explicitly.

    It never lets SQLite wait for the lock on its own (SQLite's busy handler sleeps 1, 2,
    5, 10… ms between tries, which adds milliseconds whenever two processes write): a
    thread that must wait polls every fraction of a millisecond instead.
    """

    def __init__(self, engine: Engine, busy_timeout_ms: int) -> None:
        self._engine = engine
        self._busy_timeout = busy_timeout_ms / 1000
        self._connection: Connection | None = None

    @property
    def connection(self) -> Connection:
        if self._connection is None:
            connection = self._engine.connect()
            driver(connection).execute("PRAGMA busy_timeout=0")
            driver(connection).execute("PRAGMA wal_autocheckpoint=0")  # the Checkpointer's job, off the commit path
            self._connection = connection
        return self._connection

    def begin(self, *, wait: bool) -> bool:
        """``BEGIN IMMEDIATE``; without ``wait``, False at once when another connection holds
        the write lock (with it, poll up to the busy timeout, then raise)."""
        connection = self.connection
        raw = driver(connection)
        deadline, pause = time.monotonic() + self._busy_timeout, 0.0001
        while True:
            try:
                raw.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError as error:
                if not _is_busy(error):
                    raise
                if not wait:
                    return False
                if time.monotonic() >= deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, 0.002)
        connection.begin()  # SQLAlchemy's side of the same transaction (its BEGIN is a no-op)
        return True

    def commit(self) -> None:
        try:
            self.connection.commit()
        except Exception:
            self.rollback()
            raise

    def rollback(self) -> None:
        try:
            self.connection.rollback()
        except Exception:  # a broken connection: the next transaction opens a new one
            self.close()
            raise

    def run(self, body: Any) -> Any:
        """``body(connection)`` in one transaction, waiting for the lock (a thread's way)."""
        self.begin(wait=True)
        try:
            result = body(self.connection)
        except BaseException:
            self.rollback()
            raise
        self.commit()
        return result

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.invalidate()
            finally:
                self._connection = None


class Checkpointer:
    """Copies the WAL into the database file in the background, at most twice a second.

    SQLite would otherwise do it inside whichever commit crosses 1 000 pages, and every
    check_deposit waiting on that commit would wait for the copy and its fsync too. A
    passive checkpoint on a connection of its own blocks no writer, but under sustained
    writes (and readers) it rarely copies the whole log, so the log is never reset and
    grows without bound (1.17 GB beside a 214 MB database after a 10-minute soak). So once
    the ``-wal`` file is past ``limit`` bytes, the checkpoint is ``TRUNCATE``, run between
    two transactions on the writer's own thread and connection (``truncate``): no writer of
    ours can starve it, it waits briefly for readers, copies everything and cuts the file
    to zero. Writes wait for that copy, once per ``limit`` bytes written.

    A failed checkpoint (a full disk) is retried after the next commit or failed commit, so
    once space is freed the log is copied and cut without a restart.
    """

    INTERVAL = 0.5

    def __init__(
        self,
        engine: Engine,
        database: str = "",
        limit: int = 16 * 1024 * 1024,
        truncate: Callable[[], Awaitable[bool]] | None = None,
    ) -> None:
        self._engine = engine
        self._wal = Path(f"{database}-wal") if database and database != ":memory:" else None
        self._limit = limit
        self._truncate = truncate
        self._last = 0.0
        self._task: asyncio.Task[Any] | None = None
        self.truncated = 0  # TRUNCATE checkpoints that completed (tests, metrics)

    def soon(self) -> None:
        """After a commit: start a checkpoint unless one ran lately or is running (a log
        past its limit does not wait for the interval)."""
        if self._task is not None and not self._task.done():
            return
        now, over = time.monotonic(), self._over_limit()
        if now - self._last < self.INTERVAL and not over:
            return
        self._last = now
        loop = asyncio.get_running_loop()
        if over and self._truncate is not None:
            self._task = loop.create_task(self._cut())
        else:
            self._task = loop.create_task(asyncio.to_thread(self._passive))

    def _over_limit(self) -> bool:
        try:
            return self._wal is not None and self._wal.stat().st_size > self._limit
        except OSError:
            return False

    async def _cut(self) -> None:
        assert self._truncate is not None
        with contextlib.suppress(Exception):  # a failed try waits for the next commit
            if await self._truncate():
                self.truncated += 1

    def _passive(self) -> None:
        with contextlib.suppress(Exception), self._engine.connect() as connection:
            driver(connection).execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    async def close(self) -> None:
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task
            self._task = None


def truncate_wal(raw: Any, wait_ms: int) -> bool:
    """``wal_checkpoint(TRUNCATE)`` on the write connection, between transactions, waiting
    up to ``wait_ms`` for readers; True when the log was copied whole and cut."""
    raw.execute(f"PRAGMA busy_timeout={int(wait_ms)}")
    try:
        busy, _, _ = raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        raw.execute("PRAGMA busy_timeout=0")
    return not busy


def _is_busy(error: sqlite3.OperationalError) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(error) or "busy" in str(error)
