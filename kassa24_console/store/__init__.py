"""The store: the single source of truth the listener writes and the console reads."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection, delete, insert

from ..config import DEMO_PROJECT_ID
from . import models, views
from . import queries as q
from .db import Database, create_private_file, create_schema, display_url, now_us
from .pg_hot import HotJob, HotPath
from .rows import AccountRow, ContractRow
from .writer import TRAFFIC_COLUMNS, JobRefused, Writer

T = TypeVar("T")

__all__ = ["JobRefused", "Store", "display_url", "now_us"]


class Store:
    """One database: reads, group-committed writes, and buffered traffic records."""

    def __init__(
        self,
        url: str,
        *,
        flush_interval: float = 0.2,
        busy_timeout_ms: int = 10_000,
        max_pages: int = 0,
        wal_limit_bytes: int = 16 * 1024 * 1024,
        project_id: int | None = None,
    ) -> None:
        self.url = url
        self.project_id = project_id  # the project rows made before projects belong to
        self.db = Database(url, busy_timeout_ms=busy_timeout_ms, max_pages=max_pages, wal_limit_bytes=wal_limit_bytes)
        self.writer = Writer(self.db, flush_interval)
        # PostgreSQL with asyncpg: the payment path bypasses SQLAlchemy (see pg_hot).
        self.hot = HotPath(url) if not self.db.is_sqlite and self.db.has_asyncpg else None
        if self.hot is not None:
            hot = self.hot
            self.writer.append_traffic = lambda rows: hot.copy_rows("traffic", TRAFFIC_COLUMNS, rows)
        self._probed_at = float("-inf")
        self._probe_error: str | None = None
        self._changes: dict[str, int] | None = None
        self._changes_at: Any = None  # the version the counts were read at

    async def open(self) -> bool:
        """Create the schema if needed and start the writer; True on a fresh database."""
        create_private_file(self.url)
        fresh = await self.db.transaction(lambda connection: create_schema(connection, project_id=self.project_id))
        self.writer.start()
        return fresh

    async def close(self) -> None:
        if self.hot is not None:
            await self.hot.close()
        await self.writer.close()
        await self.db.dispose()

    async def read(self, query: Callable[..., T], *args: Any) -> T:
        """A small indexed read, ``query(connection, *args)``."""
        return await self.db.read(query, *args)

    @property
    def default_project(self) -> int:
        """The project a record made without naming one belongs to (the configured first)."""
        return self.project_id if self.project_id is not None else DEMO_PROJECT_ID

    async def account(self, project_id: int, customer_id: str) -> tuple[AccountRow | None, list[ContractRow]]:
        """Verify's read: the project's account (None if unknown there) and its contracts."""
        if self.hot is not None:
            return q.account_from_rows(await self.hot.account_rows(project_id, customer_id), info_as_text=True)
        return await self.db.read(q.account_with_contracts, project_id, customer_id)

    async def insert_deposit(self, values: dict[str, Any]) -> None:
        """A new pending deposit, durable when this returns (group-committed)."""
        if self.hot is not None:
            await self.hot.write(lambda tx: tx.insert_deposit(values))
        else:
            await self.writer.submit(lambda connection: q.insert_deposit(connection, values), inline=True)

    async def write_hot(self, job: HotJob[T]) -> T | None:
        """``job`` on PostgreSQL's hot path, once committed; None when there is none (SQLite)."""
        if self.hot is None:
            return None
        return await self.hot.write(job)

    async def version(self) -> int | str | None:
        """Changes whenever anyone commits (see :meth:`.db.Database.version`): the console
        re-reads nothing while it stays the same."""
        return await self.db.version()

    async def changes(self) -> dict[str, int] | None:
        """How many writes each counted table has had (migration 0010), read again only
        when the database's version moved: asking costs ``PRAGMA data_version`` while
        nothing is committed. None when it cannot be told (then: assume every table moved)."""
        version = await self.version()
        if version is not None and version == self._changes_at and self._changes is not None:
            return self._changes
        try:
            counts = await self.db.read(views.table_changes)
        except Exception:  # a database not yet migrated, or unreachable: read everything
            return None
        self._changes, self._changes_at = counts, version
        return counts

    async def stamp(self, tables: tuple[str, ...]) -> tuple[int, ...] | None:
        """Something that changes when any of ``tables`` is written (None: cannot tell)."""
        counts = await self.changes()
        return None if counts is None else tuple(counts.get(t, 0) for t in tables)

    async def scan(self, query: Callable[..., T], *args: Any) -> T:
        """A read that may touch many rows; never blocks the event loop."""
        return await self.db.read_off_loop(query, *args)

    async def write(self, job: Callable[[Connection], T], *, inline: bool = False) -> T:
        """Run ``job`` in the next group commit and return its result once durable.
        ``inline``: a few indexed statements (the payment path), cheap enough to run on
        the event loop (SQLite; the commit itself never does)."""
        return await self.writer.submit(job, inline=inline)

    def record_traffic(self, row: dict[str, Any]) -> None:
        self.writer.record_traffic(row)

    async def health(self) -> str | None:
        """None when the database answers and takes writes now, else the reason.

        A commit that failed leaves the writer ``failing`` until one succeeds; a write
        probe (a page-sized row through the group commit) finds out sooner, and finds out
        at all when nothing else is being written (a load balancer has stopped sending).
        """
        if not await self.ping():
            return "database unreachable"
        interval = PROBE_INTERVAL_FAILING if self.writer.failing else PROBE_INTERVAL
        if time.monotonic() - self._probed_at >= interval:
            self._probed_at = time.monotonic()
            try:
                async with asyncio.timeout(5):
                    await self.writer.submit(_heartbeat)
                self._probe_error = None
            except Exception as error:
                self._probe_error = f"writes fail: {type(error).__name__}: {error}".splitlines()[0][:200]
        if self._probe_error:
            return self._probe_error
        return f"writes fail: {self.writer.failing}" if self.writer.failing else None

    async def ping(self) -> bool:
        """Whether the database answers a trivial query (for ``/healthz``)."""
        try:
            await self.db.check()
        except Exception:
            return False
        return True


PROBE_INTERVAL = 5.0  # seconds between write probes while writes work
PROBE_INTERVAL_FAILING = 1.0  # and while they fail
_PAD = bytes(3000)  # near a page: a probe that commits means a new row could too


def _heartbeat(connection: Connection) -> None:
    table = models.table_of(models.Heartbeat)
    row = connection.execute(insert(table).values(at=now_us(), pad=_PAD).returning(table.c.id)).scalar_one()
    connection.execute(delete(table).where(table.c.id < row))
