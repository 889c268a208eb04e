"""The group-committing writer: every write of a process goes through one :class:`Writer`.

It commits whatever has queued up in one transaction, so concurrent check_deposits and
callbacks share one fsync (group commit), and answers each caller only after that commit.
On SQLite a group of small jobs (``inline``: the payment path) runs its statements on the
event loop and only the commit goes to the writer thread (see :mod:`.sqlite` for why);
anything else, and any group that finds the lock held, runs whole on the thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy import Connection

from ..errors import Refused
from . import models
from .db import Database
from .prepared import inserting
from .queries import credits_in_order
from .text import storable_row

log = logging.getLogger(__name__)

T = TypeVar("T")
Job = Callable[[Connection], T]
Queued = tuple[Job[Any], "asyncio.Future[Any]", bool]  # the job, its caller's future, inline

MAX_BUFFERED_TRAFFIC = 50_000
TRAFFIC_COLUMNS = tuple(c.name for c in models.table_of(models.Traffic).c if c.name != "id")
_INSERT_TRAFFIC = inserting(models.table_of(models.Traffic), TRAFFIC_COLUMNS)


DEADLOCK_RETRIES = 3
_TRANSIENT_STATES = frozenset({"40P01", "40001"})  # deadlock detected, serialization failure


def _transient(error: BaseException) -> bool:
    original = getattr(error, "orig", None)
    state = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    return state in _TRANSIENT_STATES or "deadlock detected" in str(error)


class JobRefused(Refused):
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
        self._jobs: list[Queued] = []
        self._traffic: list[dict[str, Any]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.dropped_traffic = 0
        self.failed_writes = 0
        self.failing: str | None = None
        # Called with (jobs, traffic rows) after each group commit (metrics).
        self.on_batch: Callable[[int, int], None] | None = None
        # Traffic rows alone written another way (PostgreSQL: a COPY on the hot path's pool),
        # True when written; should it fail or decline, they take the usual way.
        self.append_traffic: Callable[[list[dict[str, Any]]], Awaitable[bool]] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="k24-writer")

    async def submit(self, job: Job[T], *, inline: bool = False) -> T:
        """Run ``job`` in the next group transaction; return its result once committed.
        ``inline``: the job is a few indexed statements that may run on the event loop."""
        if self._closing or self._task is None:
            raise RuntimeError("the store is not accepting writes")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._jobs.append((job, future, inline))
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

    async def _commit(self, jobs: list[Queued], traffic: list[dict[str, Any]]) -> None:
        if not jobs and self.append_traffic is not None:
            try:
                appended = await self.append_traffic(traffic)
            except Exception as error:  # a row the COPY refuses (a NUL): the usual way makes it storable
                reason = type(error).__name__
                log.info("appending %d traffic rows failed (%s); inserting them again", len(traffic), reason)
                appended = False
            if appended:
                self.failing = None
                if self.on_batch is not None:
                    self.on_batch(0, len(traffic))
                return

        def batch(connection: Connection) -> list[Any]:
            with credits_in_order(connection):
                results = [job(connection) for job, _, _ in jobs]
            if traffic:
                _INSERT_TRAFFIC.many(connection, traffic)
            return results

        try:
            # Traffic alone (a verify-only load) goes to the thread: hundreds of rows inserted
            # on the loop would hold it for milliseconds, and no caller waits for them.
            inline = bool(jobs) and all(inline for _, _, inline in jobs)
            results = await self._group(batch, inline)
        except Exception as error:
            # One job's failure must not sink the others: each runs again on its own.
            if not isinstance(error, JobRefused):
                log.warning("group commit of %d jobs failed; retrying one by one", len(jobs), exc_info=True)
            await self._commit_one_by_one(jobs, traffic)
            return
        self.failing = None
        if self.on_batch is not None:
            self.on_batch(len(jobs), len(traffic))
        for (_, future, _), result in zip(jobs, results, strict=True):
            if not future.done():
                future.set_result(result)

    async def _group(self, batch: Job[list[Any]], inline: bool) -> list[Any]:
        """The group's transaction: statements on the loop and the commit on the thread
        when it may and the lock is free, else all of it on the thread."""
        if inline:
            began, results = self._db.run_inline(batch)
            if began:
                await self._db.commit_inline()
                assert results is not None  # run_inline answers None only when it did not begin
                return results
        return await self._db.transaction(batch)

    async def _commit_one_by_one(self, jobs: list[Queued], traffic: list[dict[str, Any]]) -> None:
        for job, future, _ in jobs:
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

        def ordered(connection: Connection) -> T:
            with credits_in_order(connection):
                return job(connection)

        for attempt in range(DEADLOCK_RETRIES + 1):
            try:
                return await self._db.transaction(ordered)
            except Exception as error:
                if attempt == DEADLOCK_RETRIES or not _transient(error):
                    raise
                await asyncio.sleep(0.02 * (attempt + 1))
        raise AssertionError("unreachable")

    async def _insert_traffic_isolated(self, traffic: list[dict[str, Any]]) -> None:
        """Traffic rows whose batch failed: again with all text made storable, then one by
        one, so one row that cannot be stored never takes the others with it."""

        def insert_rows(rows: list[dict[str, Any]]) -> Job[None]:
            return lambda connection: _INSERT_TRAFFIC.many(connection, rows)

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
