"""Hostile input and faults, round three: a write log that stays small and recovers from a
full disk without a restart."""

from __future__ import annotations

import asyncio
import contextlib
import resource
import signal
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kassa24_console.store import Store
from kassa24_console.store.sqlite import driver


@contextlib.contextmanager
def busy_reader(db: Path) -> Iterator[None]:
    """Another process's reader (the console, a listener) reading every few milliseconds:
    a snapshot open when a writer begins keeps the log from being reset, which is what let
    it grow without bound."""
    stop = threading.Event()

    def read() -> None:
        connection = sqlite3.connect(db, timeout=10)
        while not stop.is_set():
            with contextlib.suppress(sqlite3.Error):
                connection.execute("BEGIN")
                connection.execute("SELECT count(*) FROM traffic").fetchone()
                connection.execute("SELECT max(id) FROM traffic").fetchone()
                connection.execute("COMMIT")
            stop.wait(0.003)
        connection.close()

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(10)


def _wal(db: Path) -> int:
    path = Path(f"{db}-wal")
    return path.stat().st_size if path.exists() else 0


async def _burst(store: Store, rows: int, text: str) -> None:
    """``rows`` records of ``text`` in one commit (a group of deposits' worth of writes)."""

    def insert(connection: Any) -> None:
        driver(connection).executemany(
            "INSERT INTO traffic (at, kind, http_status, peer, request, response, latency_us, customer_id)"
            " VALUES (1, 'check_deposit', 200, 'p', ?, '{}', 1, ?)",
            [(text, f"c{i}") for i in range(rows)],
        )

    await store.write(insert)


async def test_the_write_log_stays_under_its_limit_through_a_burst(tmp_path: Path) -> None:
    """20 000 writes of 2 KB (40 MB) in bursts while a reader never stops: the log stays
    within a few times its (small, for the test) limit and is cut back at the end."""
    db = tmp_path / "k.db"
    limit = 512 * 1024
    store = Store(f"sqlite:///{db}", flush_interval=10, wal_limit_bytes=limit)
    await store.open()
    largest = 0
    with busy_reader(db):
        for _ in range(400):
            await _burst(store, 50, "x" * 2000)
            largest = max(largest, _wal(db))
            await asyncio.sleep(0)
    assert largest < 8 * limit, largest  # without the limit: tens of megabytes
    checkpoints = store.db._checkpoints
    assert checkpoints is not None and checkpoints.truncated >= 1
    await store.close()
    assert _wal(db) <= limit


@contextlib.contextmanager
def file_size_limit(limit: int) -> Iterator[None]:
    """A disk that is full past ``limit`` bytes per file (this process only): writes past it
    fail as on a full disk, and raising the limit again is freeing the space."""
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)


async def test_a_full_disk_is_recovered_without_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "k.db"
    store = Store(f"sqlite:///{db}", flush_interval=10, wal_limit_bytes=256 * 1024)
    await store.open()
    await _burst(store, 10, "y" * 1000)
    failures: list[str] = []
    with file_size_limit(db.stat().st_size + _wal(db) + 400 * 1024):
        for _ in range(40):
            try:
                await _burst(store, 100, "z" * 2000)
            except Exception as error:  # the store's own refusal: the disk is full
                failures.append(str(error))
                break
        assert failures, "the disk never filled"
    # Space is back: the next writes succeed in the same process, and the log is cut back.
    await _burst(store, 100, "w" * 2000)
    assert await store.health() is None

    def count(connection: Any) -> int:
        return connection.exec_driver_sql("SELECT count(*) FROM traffic WHERE request = ?", ("w" * 2000,)).scalar()

    assert await store.scan(count) == 100
    await store.close()
    assert _wal(db) <= 256 * 1024


pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
