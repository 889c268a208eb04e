"""Hostile input and faults, round three: a write log that stays small and recovers from a
full disk without a restart."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import logging
import os
import resource
import signal
import socket
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kassa24_console.config import Settings
from kassa24_console.protocol.signature import signed
from kassa24_console.runtime import Runtime
from kassa24_console.store import Store, now_us
from kassa24_console.store import queries as q
from kassa24_console.store.sqlite import driver
from tests.support.bodies import deposit_body, verify_body
from tests.support.common import SECRET
from tests.support.inprocess import start_app
from tests.support.seeding import new_customer
from tests.support.serve import start_serve
from tests.support.waiting import wait_for


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
    """The disk fills and writes fail; then some space is freed (not all: 2 MB past what the
    files hold) while a reader keeps reading and writes go on rewriting the same rows. The
    log is cut back at its limit, so the writes keep succeeding in the same process; a log
    that is never reset (as before) grows into the freed space and fails again."""
    db = tmp_path / "k.db"
    store = Store(f"sqlite:///{db}", flush_interval=10, wal_limit_bytes=256 * 1024)
    await store.open()
    await _burst(store, 50, "y" * 1000)
    failures: list[str] = []
    with file_size_limit(db.stat().st_size + _wal(db) + 400 * 1024):
        for _ in range(40):
            try:
                await _burst(store, 100, "z" * 2000)
            except Exception as error:  # the store's own refusal: the disk is full
                failures.append(str(error))
                break
        assert failures, "the disk never filled"

    def rewrite(text: str) -> Any:
        def job(connection: Any) -> None:
            driver(connection).execute("UPDATE traffic SET request = ? WHERE id <= 50", (text,))

        return job

    with busy_reader(db), file_size_limit(max(db.stat().st_size, _wal(db)) + 2 * 1024 * 1024):
        for i in range(300):  # ~60 MB of pages rewritten: far past the space freed
            await store.write(rewrite(f"{i:04d}" * 250))
    assert await store.health() is None

    def count(connection: Any) -> int:
        return connection.exec_driver_sql("SELECT count(*) FROM traffic WHERE request = ?", ("0299" * 250,)).scalar()

    assert await store.scan(count) == 50
    await store.close()
    assert _wal(db) <= 256 * 1024


pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


# --- the door holds before anything costs --------------------------------------------------------


def _idle(url: str, count: int) -> list[socket.socket]:
    host, port = url.removeprefix("http://").split(":")
    sockets = []
    for _ in range(count):
        sock = socket.create_connection((host, int(port)), timeout=10)
        sockets.append(sock)
    return sockets


def test_idle_connections_do_not_stop_a_verify(tmp_path: Path) -> None:
    """2 000 sockets that say nothing, against the default cap of 1 000: the oldest idle
    ones are closed as the cap nears, and a signed verify is answered."""
    server = start_serve(tmp_path)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
    sockets: list[socket.socket] = []
    try:
        customer, _ = new_customer(server, {})
        sockets = _idle(server.url, 2000)
        answers = [server.post(verify_body(customer)) for _ in range(5)]
        assert [a.status_code for a in answers] == [200] * 5
        assert all(a.json()["code"] == 0 for a in answers)
    finally:
        for sock in sockets:
            sock.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        server.stop()


def _raw_request(url: str, head: bytes) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        with contextlib.suppress(OSError):
            sock.sendall(head)
        answer = b""
        with contextlib.suppress(OSError):
            while chunk := sock.recv(65536):
                answer += chunk
        return answer


def test_headers_past_their_limits_get_431(tmp_path: Path) -> None:
    server = start_serve(tmp_path)
    try:
        big = b"POST /kassa24 HTTP/1.1\r\nhost: x\r\nx-big: " + b"a" * 64 * 1024 + b"\r\ncontent-length: 2\r\n\r\n{}"
        assert _raw_request(server.url, big).startswith(b"HTTP/1.1 431 ")
        many = b"GET /healthz HTTP/1.1\r\nhost: x\r\n" + b"".join(b"x-h%d: 1\r\n" % i for i in range(1000)) + b"\r\n"
        assert _raw_request(server.url, many).startswith(b"HTTP/1.1 431 ")
        # An ordinary request on the same listener is untouched.
        assert httpx.get(server.url + "/healthz").status_code == 200
    finally:
        server.stop()


def _local_address() -> str | None:
    """An address of this machine that is not loopback (connections from it are judged
    like a stranger's); None when there is none."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if address.startswith("127.") else address


def _closed_at_accept(address: str, port: int) -> bool:
    """True when the listener closes the connection without reading the request."""
    answer = _raw_request(f"http://{address}:{port}", b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
    return answer == b""


def test_the_allow_list_and_the_per_peer_limit_hold_at_accept(tmp_path: Path) -> None:
    address = _local_address()
    if address is None:
        pytest.skip("this machine has no address but loopback")
    server = start_serve(tmp_path, KASSA24_HOST="0.0.0.0", KASSA24_ALLOW_IPS="198.51.100.0/24")
    try:
        port = int(server.url.rsplit(":", 1)[1])
        assert _closed_at_accept(address, port)  # not even /healthz: nothing is read
        assert httpx.get(server.url + "/healthz").status_code == 200  # this machine: the operator's
    finally:
        server.stop()
    (tmp_path / "2").mkdir()
    server = start_serve(tmp_path / "2", KASSA24_HOST="0.0.0.0", KASSA24_MAX_CONNECTIONS_PER_PEER="3")
    held: list[socket.socket] = []
    try:
        port = int(server.url.rsplit(":", 1)[1])
        held = [socket.create_connection((address, port), timeout=10) for _ in range(3)]
        assert _closed_at_accept(address, port)
        assert httpx.get(server.url + "/healthz").status_code == 200
        held.pop().close()
        wait_for(lambda: not _closed_at_accept(address, port))
    finally:
        for sock in held:
            sock.close()
        server.stop()


def test_a_signed_request_from_a_throttled_address_is_answered(tmp_path: Path) -> None:
    server = start_app(tmp_path, KASSA24_UNVERIFIED_BUDGET="3", KASSA24_TRUSTED_PROXIES="127.0.0.1")
    try:
        customer, _ = new_customer(server, {})
        proxy = {"x-forwarded-for": "198.51.100.7"}  # the platform and an attacker behind one proxy
        forged = {**verify_body(customer), "signature": "A" * 86 + "=="}
        codes = [server.http.post(server.url + "/kassa24", json=forged, headers=proxy).status_code for _ in range(5)]
        assert codes[-1] == 429
        honest = server.http.post(server.url + "/kassa24", json=signed(verify_body(customer), SECRET), headers=proxy)
        assert honest.status_code == 200 and honest.json()["code"] == 0
        assert server.http.post(server.url + "/kassa24", json=forged, headers=proxy).status_code == 429
    finally:
        server.stop()


def test_our_own_failures_never_spend_a_peers_budget(tmp_path: Path) -> None:
    server = start_app(tmp_path, KASSA24_UNVERIFIED_BUDGET="3")
    try:
        customer, _ = new_customer(server, {})
        with sqlite3.connect(server.db_path) as connection:  # the database breaks under the listener
            connection.execute("ALTER TABLE accounts RENAME TO accounts_gone")
        for _ in range(6):
            answer = server.post(verify_body(customer))
            assert answer.status_code == 200 and answer.json()["code"] != 0
        with sqlite3.connect(server.db_path) as connection:
            connection.execute("ALTER TABLE accounts_gone RENAME TO accounts")
        assert server.post(verify_body(customer)).json()["code"] == 0
    finally:
        server.stop()


# --- workers supervised ----------------------------------------------------------------------------


def _children(pid: int) -> set[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return {int(p) for p in text.split()}


def test_a_killed_worker_is_replaced_and_its_cause_logged(tmp_path: Path) -> None:
    server = start_serve(tmp_path, KASSA24_WORKERS="2")
    try:
        wait_for(lambda: len(_children(server.proc.pid)) == 2)
        victim = min(_children(server.proc.pid))
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: len(_children(server.proc.pid)) == 2 and victim not in _children(server.proc.pid), 20)
        wait_for(lambda: "runs again" in (tmp_path / "serve.stderr").read_text())
        assert f"(pid {victim}) killed by SIGKILL" in (tmp_path / "serve.stderr").read_text()

        def healthy() -> bool:
            try:
                answer = server.http.get(server.url + "/healthz")
            except httpx.ConnectError:  # seen once under stress-ng just after the replacement: look again
                return False
            return answer.status_code == 200 and answer.json()["workers"] == {"running": 2, "configured": 2}

        wait_for(healthy, 20)
        metrics = server.http.get(server.url + "/metrics").text
        assert "kassa24_workers_running 2.0" in metrics and "kassa24_workers_configured 2.0" in metrics
    finally:
        server.stop()
    assert server.proc.returncode == 0


# --- clocks ----------------------------------------------------------------------------------------


async def test_a_clock_91_days_ahead_prunes_nothing(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(secret_key=SECRET, database_url=f"sqlite:///{tmp_path / 'k.db'}", log_file=tmp_path / "k.log")
    runtime = Runtime(settings)
    await runtime.open()
    day = 86_400_000_000
    recent = now_us()
    row = {"kind": "verify", "http_status": 200, "peer": "p", "request": "{}", "response": "{}"}

    def seed(connection: Any) -> None:  # 30 days of history, up to now
        connection.execute(q.traffic.insert(), [{**row, "at": recent - d * day} for d in range(30)])

    await runtime.store.write(seed)
    with caplog.at_level("WARNING"):
        assert await runtime.prune_once(now=recent + 91 * day) == 0
    assert "91.0 days past the newest traffic record" in caplog.text
    assert await runtime.store.scan(q.count, q.traffic) == 30
    # Held at the newest record: new rows dated by the jumped clock do not move it.
    await runtime.store.write(lambda c: c.execute(q.traffic.insert(), [{**row, "at": recent + 91 * day}]))
    assert await runtime.prune_once(now=recent + 92 * day) == 0
    # After a restart (the operator has checked the clock) the retention counts from the
    # clock again, which is near the newest record now.
    fresh = Runtime(settings)
    await fresh.store.open()
    assert await fresh.prune_once(now=recent + 91 * day + 3_600_000_000) == 30
    assert await fresh.store.scan(q.count, q.traffic) == 1
    await fresh.store.close()
    await runtime.store.close()


def test_a_deposit_dated_far_past_the_last_one_is_warned(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The last deposit stored is 91 days older than this machine's clock (as after a jump
    forward): the next deposit is taken, and the log says to check the clock."""
    server = start_app(tmp_path)
    customer, (contract,) = new_customer(server, {"payment": 500_000})
    first = server.post(deposit_body(customer, contract, 1000)).json()["payment_id"]
    server.stop()
    with sqlite3.connect(server.db_path) as connection:
        shift = 91 * 86_400_000_000
        connection.execute("UPDATE deposits SET created_at = created_at - ? WHERE payment_id = ?", (shift, first))
    server = start_app(tmp_path)  # serve's app opened again on the same file
    try:
        with caplog.at_level("WARNING", logger="kassa24_console"):
            assert server.post(deposit_body(customer, contract, 1000)).json()["code"] == 0
            wait_for(lambda: "hours after the last deposit stored: check the clock" in caplog.text)
    finally:
        server.stop()


# --- log rotation by time -------------------------------------------------------------------------


def test_the_log_rotates_by_the_hour_and_keeps_two_days(tmp_path: Path) -> None:
    """20 MB of request lines (what 4 × 5 MB kept: about four minutes at 100 cycles/s) stay
    in one file; a rollover gzips the hour, private; 48 hours are kept."""
    from kassa24_console import logs

    handler = logs.PrivateTimedRotatingFileHandler(tmp_path / "k.log")
    line = logging.LogRecord("kassa24_console.requests", logging.INFO, "", 0, "x" * 1000, None, None)
    for _ in range(21_000):
        handler.emit(line)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.log"]
    assert (tmp_path / "k.log").stat().st_size > 20_000_000
    handler.doRollover()
    handler.emit(line)
    handler.close()
    (rotated,) = [p for p in tmp_path.iterdir() if p.name.endswith(".gz")]
    assert rotated.stat().st_mode & 0o777 == 0o600 and (tmp_path / "k.log").stat().st_mode & 0o777 == 0o600
    with gzip.open(rotated, "rt") as text:
        assert sum(1 for _ in text) == 21_000
    assert handler.backupCount * handler.interval >= 24 * 3600


def _status_of_child_killed_by(signum: int) -> int:
    ready, told = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: default handlers (as a worker before uvicorn's), then wait
        try:
            for each in (signal.SIGTERM, signal.SIGINT):
                signal.signal(each, signal.SIG_DFL)
            os.write(told, b"1")
            while True:
                signal.pause()
        finally:
            os._exit(3)
    os.close(told)
    assert os.read(ready, 1) == b"1"
    os.close(ready)
    os.kill(pid, signum)
    return os.waitpid(pid, 0)[1]


def test_a_worker_ended_by_the_forwarded_stop_signal_is_a_clean_stop() -> None:
    """A replacement worker still starting when serve is stopped dies of the SIGTERM we
    forwarded (its handlers are not yet installed): serve must still exit 0; a worker
    killed by anything else while stopping is a failure."""
    from kassa24_console.workers import _Supervisor

    assert _Supervisor.stop_code(_status_of_child_killed_by(signal.SIGTERM)) == 0
    assert _Supervisor.stop_code(_status_of_child_killed_by(signal.SIGINT)) == 0
    assert _Supervisor.stop_code(_status_of_child_killed_by(signal.SIGKILL)) == 1
