"""The store: the single source of truth the listener writes and the console reads."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from .db import Writer, display_url, make_engines, now_us
from .db import create_schema as _create_schema

T = TypeVar("T")

__all__ = ["Store", "display_url", "now_us"]


class Store:
    """Reader engine, writer engine and the group-committing writer of one database."""

    def __init__(self, url: str, *, flush_interval: float = 0.2) -> None:
        self.url = url
        self.reader, self._writer_engine = make_engines(url)
        self.writer = Writer(self._writer_engine, flush_interval)

    @property
    def display_url(self) -> str:
        return display_url(self.url)

    async def open(self) -> bool:
        """Create the schema if needed and start the writer; True on a fresh database."""
        fresh = await _create_schema(self._writer_engine)
        self.writer.start()
        return fresh

    async def close(self) -> None:
        await self.writer.close()
        await self.reader.dispose()
        await self._writer_engine.dispose()

    async def read(self, query: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run a read-only ``query(connection, *args)``."""
        async with self.reader.connect() as connection:
            return await query(connection, *args)

    async def write(self, job: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run ``job`` in the next group commit and return its result once durable."""
        return await self.writer.submit(job)

    def record_traffic(self, row: dict[str, Any]) -> None:
        self.writer.record_traffic(row)

    async def ping(self) -> bool:
        """Whether the database answers a trivial query (for ``/healthz``)."""
        try:
            async with self.reader.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception:
            return False
        return True
