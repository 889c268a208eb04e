"""One process's parts wired together: store → service → listener, and its logging."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

from sqlalchemy import Connection

from .config import Settings, postgres_driver_missing
from .errors import StartupError
from .i18n import _
from .store import Store, changes, display_url, now_us
from .store import queries as q

log = logging.getLogger(__name__)

DEMO_KEY_WARNING = "using the built-in demo secret key: set KASSA24_SECRET_KEY before real traffic"
PRUNE_BATCH = 500  # traffic rows deleted per commit: small slices, never a long lock
PRUNE_EVERY = 300.0  # seconds between pruning rounds
CLOCK_GAP_US = 86_400_000_000  # the clock past the newest traffic record by more: held


def describe(error: BaseException, settings: Settings) -> str:
    """A startup failure as one or two plain lines, never a traceback."""
    where = display_url(settings.store_url)
    if isinstance(error, StartupError):
        return str(error)
    if isinstance(error, ModuleNotFoundError) and error.name in ("asyncpg", "psycopg"):
        return postgres_driver_missing()
    if isinstance(error, PermissionError | NotADirectoryError | FileNotFoundError | IsADirectoryError):
        reason = f"{error.strerror or error} ({error.filename})"
    else:
        original = getattr(error, "orig", None) or error
        reason = (str(original).strip().splitlines() or [type(original).__name__])[0]
    return _("cannot open the database {where}: {reason}").format(where=where, reason=reason)


class Runtime:
    """The store, the service and the (not yet started) listener of one project."""

    def __init__(self, settings: Settings, *, shared_port: bool = False) -> None:
        # Imported here: a command that only opens the store (reconcile, audit) does without them.
        from .listener import Listener, listener_app
        from .service import Service

        self.settings = settings
        self.store = make_store(settings)
        self.service = Service(settings, self.store)
        self.app = listener_app(settings, self.store, self.service)
        self.listener = Listener(self.app, settings.host, settings.port, settings, shared_port=shared_port)
        self._pruner: asyncio.Task[None] | None = None
        self._prune_from: int | None = None  # held at the newest record after a clock jump

    async def open(self, *, demo: bool = True) -> None:
        """Open the store; a fresh database in demo mode gets the demo accounts (unless
        ``demo`` is False). :class:`StartupError` says why it cannot be opened."""
        await open_store(self.store, self.settings, demo=demo)

    def start_pruning(self) -> None:
        """Delete traffic past its retention in the background, in small batches."""
        if self.settings.traffic_retention_days and self._pruner is None:
            self._pruner = asyncio.get_running_loop().create_task(self._prune_forever(), name="k24-prune")

    async def prune_once(self, now: int | None = None) -> int:
        """One round: batches until nothing older than the retention is left; rows deleted.

        The retention counts back from the clock only while the clock is near the newest
        traffic record. A clock far past it (jumped forward: 91 days ahead would delete
        the whole history at once) is logged, and pruning counts from that record instead
        until serve is restarted: never more than the retention implies from the newest
        record, and the operator decides whether the clock or the history is right."""
        now = now if now is not None else now_us()
        retention = self.settings.traffic_retention_days * 86_400_000_000
        total = 0
        while True:
            held = self._prune_from
            deleted = await self.store.write(lambda connection: self._prune_batch(connection, now, retention))
            if held is None and self._prune_from is not None:
                log.warning(
                    "the clock is %.1f days past the newest traffic record (a clock jump, or no traffic since): "
                    "pruning counts from that record, not from the clock, until serve is restarted",
                    (now - self._prune_from) / 86_400_000_000,
                )
            total += deleted
            if deleted < PRUNE_BATCH:
                return total
            await asyncio.sleep(0.05)  # let requests through between slices

    def _prune_batch(self, connection: Connection, now: int, retention: int) -> int:
        """One slice, counted back from the clock or, after a jump, from the newest record
        (read in the same transaction: pruning costs one commit, as it always did)."""
        if self._prune_from is None:
            newest = q.newest(connection, q.traffic.c.at)
            if newest is not None and now - newest > CLOCK_GAP_US:
                self._prune_from = newest
        return _prune_batch(connection, (self._prune_from or now) - retention)

    async def _prune_forever(self) -> None:
        while True:
            try:
                if deleted := await self.prune_once():
                    days = self.settings.traffic_retention_days
                    log.info("pruned %d traffic records older than %d days", deleted, days)
            except Exception:
                log.warning("pruning traffic failed; will try again", exc_info=True)
            await asyncio.sleep(PRUNE_EVERY)

    async def close(self) -> None:
        if self._pruner is not None:
            self._pruner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pruner
            self._pruner = None
        await self.listener.stop()
        self.app.flush_request_log()
        await self.store.close()


def make_store(settings: Settings) -> Store:
    """A (not yet opened) store of the configured database."""
    return Store(
        settings.store_url,
        flush_interval=settings.traffic_flush_interval,
        busy_timeout_ms=settings.sqlite_busy_timeout_ms,
        max_pages=settings.sqlite_max_pages,
        wal_limit_bytes=settings.sqlite_wal_limit_bytes,
        project_id=settings.project_id,
    )


async def open_store(store: Store, settings: Settings, *, demo: bool = False) -> bool:
    """``store.open()``, with any failure turned into a :class:`StartupError` that says why
    (the store is closed again, so nothing is left running). With ``demo``, a fresh
    database opened with the demo key gets the demo customers and their history."""
    try:
        fresh = await store.open()
    except Exception as error:
        log.debug("cannot open the database", exc_info=True)
        with contextlib.suppress(Exception):
            await store.close()
        raise StartupError(describe(error, settings)) from None
    if fresh and demo and settings.uses_demo_key:
        from . import demo_history, importer

        accounts, contracts = await importer.apply(store, importer.read_file(importer.demo_file()), actor="demo")
        rows = await demo_history.load_history(store)
        log.info("loaded demo data: %d accounts, %d contracts, %d history rows", accounts, contracts, rows)
    return fresh


def _prune_batch(connection: Connection, cutoff: int) -> int:
    return changes.prune_traffic(connection, cutoff, PRUNE_BATCH)


T = TypeVar("T")


def run_loop(main: Coroutine[Any, Any, T]) -> T:
    """``main`` on uvloop when it is installed (libuv's loop and transports: the listener's
    socket writes and callbacks cost less than on asyncio's own), else on asyncio's. ``serve``, its
    workers and the console's listener process all run on it."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)
