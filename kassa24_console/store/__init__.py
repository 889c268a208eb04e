"""The store: the single source of truth the listener writes and the console reads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection

from .db import Database, JobRefused, Writer, create_schema, display_url, now_us

T = TypeVar("T")

__all__ = ["JobRefused", "Store", "display_url", "now_us"]


class Store:
    """One database: reads, group-committed writes, and buffered traffic records."""

    def __init__(
        self, url: str, *, flush_interval: float = 0.2, busy_timeout_ms: int = 10_000, max_pages: int = 0
    ) -> None:
        self.url = url
        self.db = Database(url, busy_timeout_ms=busy_timeout_ms, max_pages=max_pages)
        self.writer = Writer(self.db, flush_interval)

    async def open(self) -> bool:
        """Create the schema if needed and start the writer; True on a fresh database."""
        fresh = await self.db.transaction(create_schema)
        self.writer.start()
        return fresh

    async def close(self) -> None:
        await self.writer.close()
        await self.db.dispose()

    async def read(self, query: Callable[..., T], *args: Any) -> T:
        """A small indexed read, ``query(connection, *args)``."""
        return await self.db.read(query, *args)

    async def scan(self, query: Callable[..., T], *args: Any) -> T:
        """A read that may touch many rows; never blocks the event loop."""
        return await self.db.read_off_loop(query, *args)

    async def write(self, job: Callable[[Connection], T]) -> T:
        """Run ``job`` in the next group commit and return its result once durable."""
        return await self.writer.submit(job)

    def record_traffic(self, row: dict[str, Any]) -> None:
        self.writer.record_traffic(row)

    async def ping(self) -> bool:
        """Whether the database answers a trivial query (for ``/healthz``)."""
        try:
            await self.db.check()
        except Exception:
            return False
        return True
