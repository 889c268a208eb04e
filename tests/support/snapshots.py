"""The snapshot tests' database: fixed data at a fixed path (the header and the help name it),
built once per run and shared by the pictures, which only read it.

Each picture used to rebuild the database, so one run took every picture in turn on one
worker. The console attached with ``live=False`` writes nothing, so the pictures of both
workers share one database; it is rebuilt only for another variant (two projects) or
another run (another checkout, a CI job), and only when no picture is being taken: a
picture holds a shared lock on ``USE``, a rebuild an exclusive one, and whoever checks or
builds holds ``LOCK`` first, so that two never wait for each other's shared lock.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from kassa24_console import importer
from kassa24_console.config import Settings
from kassa24_console.console.app import Kassa24App
from kassa24_console.store import Store
from kassa24_console.store import alerts as store_alerts
from kassa24_console.store import queries as q
from tests.support.common import PROJECT_ID, SECRET
from tests.support.console import steady_screen

# A fixed path, so the header (which names the database) is the same on every machine.
HOME = Path("/tmp/kassa24-snapshots")
LOCK = Path("/tmp/kassa24-snapshots.lock")  # held while the database is checked or built
USE = Path("/tmp/kassa24-snapshots.use")  # shared while a picture is taken, exclusive to rebuild
MARK = HOME / "built-for"  # the run and the variant the database holds, written last
SIZE = (120, 40)
T0 = 1_795_680_000_000_000  # 2026-11-26 05:20:00 UTC, microseconds


def _traffic(i: int, kind: str, customer: str | None, code: int | None, **extra: Any) -> dict[str, Any]:
    request = {"type": kind, "project_id": PROJECT_ID, "customer_id": customer, "signature": "…"}
    response = {"code": code, "message": "Success"}
    row = {
        "at": T0 + i * 1_700_000,
        "kind": kind,
        "customer_id": customer,
        "contract_id": None,
        "amount": None,
        "code": code,
        "http_status": 200,
        "signature_ok": True,
        "latency_us": 1200 + 97 * i,
        "peer": f"10.0.0.{i}:5{i:04d}",
        "request": json.dumps(request, ensure_ascii=False),
        "response": json.dumps(response, ensure_ascii=False),
    }
    row.update(extra)
    return row


TRAFFIC = [
    _traffic(1, "verify", "7012345678", 0),
    _traffic(2, "check_deposit", "7012345678", 0, contract_id="C-10001", amount=1_500_000),
    _traffic(3, "callback", None, None, signature_ok=True, amount=1_500_000),
    _traffic(4, "verify", "[/x] [bold]", 404),
    _traffic(5, "check_deposit", "7034567890", 500, contract_id="C-30001", amount=250_000),
    _traffic(6, "verify", "7045678901", 204),
    _traffic(7, "verify", "7023456789", 400, signature_ok=False),
    _traffic(8, "unknown", None, 500, signature_ok=None, request="[/x]", response='{"code": 500}'),
    _traffic(9, "callback", None, None, signature_ok=False, http_status=400),
]

CALLBACKS = [
    {
        "received_at": T0 + 3_000_000,
        "last_received_at": T0 + 9_000_000,
        "deliveries": 3,
        "dedupe_key": "k24_01SNAPSHOT00000000000000001|28|success",
        "signature_ok": True,
        "payment_id": "k24_01SNAPSHOT00000000000000001",
        "operation_id": "28",
        "status": "success",
        "operation_status": "success",
        "amount": 1_500_000,
        "currency": "KZT",
        "customer_id": "c1",
        "deposit_id": "k24_01SNAPSHOT00000000000000001",
        "outcome": "applied",
        "raw": "{}",
    },
    {
        "received_at": T0 + 5_000_000,
        "last_received_at": T0 + 5_000_000,
        "deliveries": 1,
        "dedupe_key": "bad-signature:abc",
        "signature_ok": False,
        "payment_id": "k24_forged",
        "operation_id": None,
        "status": None,
        "operation_status": None,
        "amount": None,
        "currency": None,
        "customer_id": None,
        "deposit_id": None,
        "outcome": "rejected",
        "raw": "{}",
    },
]

MISMATCHES = [
    {
        "key": "bad_signature:abc",
        "kind": "bad_signature",
        "payment_id": "k24_forged",
        "evidence": {"payment_id": "k24_forged", "sha256": "abc"},
        "action": "Check the secret key",
        "found_at": T0 + 5_000_000,
        "state": "open",
        "note": "",
    },
    {
        "key": "unknown_payment:x",
        "kind": "unknown_payment",
        "payment_id": "payment_47",
        "evidence": {"callback": {"payment_id": "payment_47", "status": "success", "amount": 10000}},
        "action": "Ask the platform",
        "found_at": T0 + 6_000_000,
        "state": "open",
        "note": "",
    },
]

ALERTS = [
    {
        "key": "signature_failures",
        "rule": "signature_failures",
        "active_key": "signature_failures",
        "title": "Requests fail the signature",
        "text": "12 requests failed the signature in the last 5 min.",
        "started_at": T0 + 7_000_000,
        "last_sent_at": T0 + 7_000_000,
        "sends": 1,
        "resolved_at": None,
        "acked_by": None,
        "acked_at": None,
        "ack_note": "",
    },
    {
        "key": "callbacks_silent",
        "rule": "callbacks_silent",
        "active_key": None,
        "title": "No callbacks arrive",
        "text": "Deposits were issued but no callback at all arrived for 60 min.",
        "started_at": T0 + 1_000_000,
        "last_sent_at": T0 + 1_000_000,
        "sends": 1,
        "resolved_at": T0 + 3_000_000,
        "acked_by": "aigerim",
        "acked_at": T0 + 2_000_000,
        "ack_note": "calling the platform",
    },
]
ALERT_DELIVERIES = [
    {
        "alert_id": 1,
        "event": "fired",
        "channel": "tgram://…",
        "ok": True,
        "attempts": 1,
        "error": None,
        "at": T0 + 7_000_000,
    },
    {
        "alert_id": 1,
        "event": "fired",
        "channel": "mailto://smtp.example.kz",
        "ok": False,
        "attempts": 4,
        "error": "A connection error occurred",
        "at": T0 + 8_000_000,
    },
]


TWO_PROJECTS = [
    {"project_id": PROJECT_ID, "name": "production", "secret_key": SECRET + "-for-snapshots"},
    {"project_id": 4343, "name": "test", "test": True, "secret_key": SECRET + "-for-snapshots-test"},
]
SMALL = (80, 24)
SCREENS = {
    "traffic": (),
    "contracts": ("c",),
    "callbacks": ("b",),
    "mismatches": ("m",),
    "alerts": ("exclamation_mark",),
    "detail": ("up", "up", "enter"),
    "edit_form": ("c", "down", "down", "down", "e"),
    "new_contract_form": ("c", "n"),
    "help": ("f1",),
    "story": ("b", "s"),
    "history": ("c", "h"),
    "account_form": ("c", "a"),
    "resolve_form": ("m", "x"),
    "correction_form": ("m", "k"),
}
_SESSION = uuid.uuid4().hex  # this process's run, when not an xdist worker


def _settings(language: str | None, projects: list[dict[str, Any]] | None) -> Settings:
    several = {"projects": projects} if projects else {}
    return Settings(
        **several,
        project_id=PROJECT_ID,
        secret_key=SECRET + "-for-snapshots",  # long enough: no weak-key notice in the picture
        database_url=f"sqlite:///{HOME / 'k24.db'}",
        log_file=HOME / "k24.log",
        port=0,
        language=language,
    )


def _build(projects: list[dict[str, Any]] | None) -> None:
    shutil.rmtree(HOME, ignore_errors=True)
    HOME.mkdir(parents=True)
    settings = _settings(None, projects)

    async def seed() -> None:
        store = Store(settings.database_url, project_id=PROJECT_ID)
        await store.open()
        await importer.apply(store, importer.read_file(importer.demo_file()), actor="test")
        if projects:  # the second project: a customer of its own
            rows = importer.read_file(importer.demo_file())
            batch = importer.Batch(rows.accounts[:1], [c for c in rows.contracts if c["customer_id"] ==
                                   rows.accounts[0]["customer_id"]], ["second.json"])  # fmt: skip
            await importer.apply(store, batch, actor="test", project_id=projects[1]["project_id"])

        def rows(connection: Any) -> None:
            connection.execute(q.audit.update().values(at=T0))  # no wall-clock time in a picture
            connection.execute(q.traffic.insert(), TRAFFIC)
            connection.execute(q.callbacks.insert(), CALLBACKS)
            connection.execute(q.mismatches.insert(), MISMATCHES)
            connection.execute(store_alerts.alerts.insert(), ALERTS)
            connection.execute(store_alerts.deliveries.insert(), ALERT_DELIVERIES)

        await store.write(rows)
        await store.close()

    asyncio.run(seed())


class Home:
    """The shared database for one test: ``app()`` holds it (shared) until the test ends."""

    def __init__(self, run: str) -> None:
        self.run = run
        self._use: IO[str] | None = None

    def app(self, language: str | None = None, projects: list[dict[str, Any]] | None = None) -> Kassa24App:
        self._hold(f"{self.run} {'two projects' if projects else 'one project'}", projects)
        return Kassa24App(_settings(language, projects), attach=True, live=False)

    def _hold(self, wanted: str, projects: list[dict[str, Any]] | None) -> None:
        assert self._use is None, "one picture per test"
        with LOCK.open("a") as build:
            fcntl.flock(build, fcntl.LOCK_EX)
            use = USE.open("a")
            if MARK.is_file() and MARK.read_text() == wanted:
                fcntl.flock(use, fcntl.LOCK_SH)
            else:
                fcntl.flock(use, fcntl.LOCK_EX)  # every picture being taken is done
                _build(projects)
                MARK.write_text(wanted)
                fcntl.flock(use, fcntl.LOCK_SH)  # no one else builds: we hold LOCK
            self._use = use

    def release(self) -> None:
        if self._use is not None:
            self._use.close()
            self._use = None


@pytest.fixture
def home(request: pytest.FixtureRequest) -> Iterator[Home]:
    """The snapshots' database, held for this test's picture."""
    run = getattr(request.config, "workerinput", {}).get("testrunuid", _SESSION)
    shared = Home(run)
    try:
        yield shared
    finally:
        shared.release()


async def settle(pilot: Any) -> None:
    await steady_screen(pilot)


async def press(pilot: Any, *keys: str) -> None:
    await settle(pilot)
    for key in keys:
        await pilot.press(key)
        await settle(pilot)
