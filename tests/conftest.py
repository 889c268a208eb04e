"""Shared fixtures: a real ``serve`` process on a temp SQLite file, and helpers to seed it."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import settings as hypothesis_settings

from kassa24_console import i18n, importer
from kassa24_console.config import Settings
from kassa24_console.console.app import Kassa24App
from kassa24_console.console.panes import ContractsPane
from kassa24_console.console.screens import ContractForm
from kassa24_console.protocol.signature import signed
from kassa24_console.store import Store

# Property tests: a quick profile for CI, a long one before a release
# (HYPOTHESIS_PROFILE=release .venv/bin/pytest tests/test_hardening.py).
hypothesis_settings.register_profile("ci", max_examples=150, deadline=None, derandomize=True)
hypothesis_settings.register_profile("release", max_examples=5000, deadline=None)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

SECRET = "k24-test-secret"  # the spec vectors (tests/data/vectors.json) are signed with it
PROJECT_ID = 1234
ROOT = Path(__file__).resolve().parents[1]
# Spec vectors, copied from the specification into the repository (tests read nothing outside it).
DATA = Path(__file__).resolve().parent / "data"

_ids = itertools.count(1)
JSON = {"content-type": "application/json"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen[bytes] | None = None, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"serve exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not become healthy")


LOCALE_VARIABLES = ("LC_ALL", "LC_MESSAGES", "LANGUAGE", "LANG")


@pytest.fixture(autouse=True)
def english_unless_asked(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts in English whatever the machine's locale, and leaves no language behind."""
    for name in LOCALE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("KASSA24_LANGUAGE", raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    i18n.set_language("en")
    yield
    i18n.set_language("en")


def serve_env(db_path: Path, port: int, **extra: str) -> dict[str, str]:
    # English unless a test asks for a language: the locale of the machine running the tests
    # must not decide what the English tests read.
    env = {k: v for k, v in os.environ.items() if not k.startswith("KASSA24_") and k not in LOCALE_VARIABLES}
    env.update(
        LANG="C.UTF-8",
        KASSA24_DATABASE_URL=f"sqlite:///{db_path}",
        KASSA24_PORT=str(port),
        KASSA24_SECRET_KEY=SECRET,
        KASSA24_PROJECT_ID=str(PROJECT_ID),
        KASSA24_LOG_FILE=str(db_path.with_suffix(".log")),
        KASSA24_TRAFFIC_FLUSH_INTERVAL="0.05",
    )
    env.update(extra)
    return env


@dataclass
class Server:
    """A running ``kassa24-console serve`` and what tests need to talk to it."""

    url: str
    db_path: Path
    option: int
    proc: subprocess.Popen[bytes]
    env: dict[str, str]

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.db_path}"

    def post(self, body: dict[str, Any] | bytes, *, sign: bool = True, path: str = "/kassa24") -> httpx.Response:
        if isinstance(body, bytes):
            return httpx.post(self.url + path, content=body, timeout=10)
        payload = signed(body, SECRET) if sign else body
        # ASCII JSON (\u escapes), as the platform may send it; lone surrogates travel too.
        content = json.dumps(payload).encode()
        return httpx.post(self.url + path, content=content, headers=JSON, timeout=10)

    def rows(self, sql: str, *params: Any) -> list[sqlite3.Row]:
        with sqlite3.connect(self.db_path, timeout=10) as connection:
            connection.row_factory = sqlite3.Row
            return connection.execute(sql, params).fetchall()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_serve(tmp: Path, option: int = 2, **extra_env: str) -> Server:
    port = free_port()
    db_path = tmp / "k24.db"
    env = serve_env(db_path, port, KASSA24_RESPONSE_OPTION=str(option), **extra_env)
    stderr = open(tmp / "serve.stderr", "ab")  # noqa: SIM115 - lives as long as the process
    proc = subprocess.Popen(
        [sys.executable, "-m", "kassa24_console.cli", "serve"], env=env, stdout=stderr, stderr=stderr, cwd=tmp
    )
    server = Server(f"http://127.0.0.1:{port}", db_path, option, proc, env)
    try:
        wait_healthy(server.url, proc)
    except RuntimeError:
        server.stop()
        raise RuntimeError((tmp / "serve.stderr").read_text()) from None
    return server


@pytest.fixture(scope="module", params=[1, 2], ids=["option1", "option2"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A serve process per response option, shared by a module's tests (they use fresh ids)."""
    srv = start_serve(tmp_path_factory.mktemp(f"serve{request.param}"), request.param)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def server2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A serve process with response option 2 only."""
    srv = start_serve(tmp_path_factory.mktemp("serve2"), 2)
    yield srv
    srv.stop()


def seed(db_url: str, accounts: list[dict[str, Any]], contracts: list[dict[str, Any]]) -> None:
    """Write accounts and contracts the way ``import`` does."""

    async def _apply() -> None:
        store = Store(db_url)
        await store.open()
        try:
            await importer.apply(store, importer.Batch(accounts, contracts, ["test"]), actor="test")
        finally:
            await store.close()

    asyncio.run(_apply())


def new_customer(server: Server, *contracts: dict[str, Any], currency: str = "KZT") -> tuple[str, list[str]]:
    """A fresh account with the given contracts (defaults filled in); returns the ids."""
    n = next(_ids)
    customer = f"77{os.getpid() % 1000:03d}{n:05d}"
    rows = []
    for i, contract in enumerate(contracts):
        row = {
            "id": f"T-{customer}-{i}",
            "customer_id": customer,
            "number": f"N{customer}/{i}",
            "payment": 100_000,
            "min_payment": None,
            "status_code": 0,
            "status_text": "",
            "info": None,
        }
        rows.append({**row, **contract})
    seed(
        server.db_url,
        [{"customer_id": customer, "additional_customer_id": f"A{customer}", "currency": currency, "name": "Test"}],
        rows,
    )
    return customer, [row["id"] for row in rows]


def verify_body(customer: str, **extra: Any) -> dict[str, Any]:
    return {"type": "verify", "project_id": PROJECT_ID, "customer_id": customer, **extra}


def deposit_body(customer: str, contract: str | None, amount: Any = 100_000, **extra: Any) -> dict[str, Any]:
    body = {
        "type": "check_deposit",
        "project_id": PROJECT_ID,
        "customer_id": customer,
        "amount": amount,
        "currency": "KZT",
        "payment_method": "kassa24",
        **extra,
    }
    if contract is not None:
        body["entity_id"] = contract
    return body


def callback_body(
    payment_id: str,
    status: str = "success",
    amount: int = 100_000,
    operation_id: int = 1,
    currency: str = "KZT",
    **extra: Any,
) -> dict[str, Any]:
    date = "2026-11-27T08:00:00+0000"
    return {
        "project_id": PROJECT_ID,
        "payment": {
            "id": payment_id,
            "type": "purchase",
            "status": status,
            "date": date,
            "method": "Kassa24",
            "sum": {"amount": amount, "currency": currency},
            "description": "",
        },
        "account": {"number": "123456"},
        "customer": {"id": "customer_1"},
        "operation": {
            "id": operation_id,
            "type": "sale",
            "status": status,
            "date": date,
            "created_date": date,
            "request_id": "r1",
            "sum_initial": {"amount": amount, "currency": currency},
            "sum_converted": {"amount": amount, "currency": currency},
            "code": "0" if status == "success" else "100",
            "message": status,
            "provider": {"id": 1, "payment_id": "p", "auth_code": ""},
        },
        **extra,
    }


async def read_body(receive: Any) -> bytes:
    """The whole request body of an ASGI test app."""
    raw = b""
    while True:
        message = await receive()
        raw += message.get("body", b"")
        if not message.get("more_body"):
            return raw


def load_vectors() -> list[dict[str, Any]]:
    return json.loads((DATA / "vectors.json").read_text())["cases"]


# --- the console, driven through Pilot with its listener embedded --------------------------


def make_settings(tmp: Path, **extra: Any) -> Settings:
    values: dict[str, Any] = dict(
        project_id=PROJECT_ID,
        secret_key=SECRET,
        database_url=f"sqlite:///{tmp / 'k24.db'}",
        port=0,
        log_file=tmp / "k24.log",
        traffic_flush_interval=0.05,
    )
    values.update(extra)
    return Settings(**values)


async def seed_demo(settings: Settings) -> None:
    store = Store(settings.database_url)
    await store.open()
    await importer.apply(store, importer.read_file(importer.demo_file()), actor="test")
    await store.close()


async def until(pilot: Any, condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.05)


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[tuple[Kassa24App, Any, str]]:
    settings = make_settings(tmp_path)
    await seed_demo(settings)
    app = Kassa24App(settings)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.listener_state == "listening")
        assert app.runtime is not None
        yield app, pilot, f"http://127.0.0.1:{app.runtime.listener.port}"


async def post(url: str, body: dict[str, Any] | bytes, path: str = "/kassa24", sign: bool = True) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        if isinstance(body, bytes):
            return await client.post(url + path, content=body)
        return await client.post(url + path, json=signed(body, SECRET) if sign else body)


async def open_first_contract(app: Kassa24App, pilot: Any) -> None:
    """Contracts pane, first row, edit form open."""
    await pilot.press("c")
    pane = app.query_one(ContractsPane)
    await until(pilot, lambda: pane.table.row_count == 10)
    pane.table.move_cursor(row=0)
    await pilot.press("e")
    await until(pilot, lambda: isinstance(app.screen, ContractForm))


async def click_save(app: Any, pilot: Any) -> None:
    """Click the form's Save; toasts (a weak-key notice) are cleared first, as they can sit
    over the button on a small screen."""
    app.clear_notifications()
    await pilot.pause(0.05)
    await pilot.click("#save")
