"""The listener's layers in the order they answer (issue #18), in-process through
``listener_app`` on a real SQLite file: a path that is no route is 404 before the
allow-list's 403, which comes before the method's 405; a peer past its budget of unverified
work gets 429 unless its request is signed, and a body past the limit is the limit's 413
whatever the budget says; what is answered is recorded, health and 429s are not."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from kassa24_console import importer
from kassa24_console.config import Settings
from kassa24_console.listener import ListenerApp, listener_app
from kassa24_console.protocol.signature import signed
from kassa24_console.runtime import make_store, open_store

SECRET = "k24-layers-secret"
PROJECT_ID = 1234
CUSTOMER = "7012345678"  # the demo's
Ask = Callable[[httpx.AsyncClient], Awaitable[list[httpx.Response]]]


def _settings(tmp_path: Path, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "project_id": PROJECT_ID,
        "secret_key": SECRET,
        "database_url": f"sqlite:///{tmp_path / 'k24.db'}",
        "port": 0,
        "log_file": tmp_path / "k24.log",
    }
    return Settings(**{**values, **extra})


def _verify(sign: bool = True) -> bytes:
    body = {"type": "verify", "project_id": PROJECT_ID, "customer_id": CUSTOMER}
    return json.dumps(signed(body, SECRET) if sign else {**body, "signature": "forged"}).encode()


def _through(settings: Settings, client: tuple[str, int], ask: Callable[[ListenerApp, httpx.AsyncClient], Any]) -> Any:
    """Run ``ask`` against the app of a fresh store (the demo's customers), then close the
    store so that every traffic record is written."""

    async def run() -> Any:
        store = make_store(settings)
        await open_store(store, settings)
        await importer.apply(store, importer.read_file(importer.demo_file()), actor="test")
        app = listener_app(settings, store)
        try:
            transport = httpx.ASGITransport(app=app, client=client)
            async with httpx.AsyncClient(transport=transport, base_url="http://merchant") as http:
                return await ask(app, http)
        finally:
            app.flush_request_log()
            await store.close()

    return asyncio.run(run())


def _traffic(settings: Settings) -> list[tuple[int, str]]:
    assert settings.database_url is not None
    with sqlite3.connect(settings.database_url.removeprefix("sqlite:///")) as db:
        return db.execute("SELECT http_status, kind FROM traffic ORDER BY id").fetchall()


def test_route_then_allow_list_then_method(tmp_path: Path) -> None:
    settings = _settings(tmp_path, allow_ips=["10.0.0.0/8"], log_requests=False)

    async def ask(app: ListenerApp, http: httpx.AsyncClient) -> list[httpx.Response]:
        return [
            await http.get("/nowhere"),
            await http.get("/kassa24"),
            await http.post("/kassa24/callback", content=b"{}"),
            await http.get("/metrics"),
            await http.get("/healthz"),
        ]

    stranger = _through(settings, ("185.0.0.17", 443), ask)
    assert [a.status_code for a in stranger] == [404, 403, 403, 403, 200]
    assert all(a.headers["x-request-id"] for a in stranger)  # even with the request log left out
    assert len({a.headers["x-request-id"] for a in stranger}) == len(stranger)
    assert _traffic(settings) == [(404, "http"), (403, "forbidden"), (403, "forbidden"), (403, "forbidden")]

    (tmp_path / "allowed").mkdir()
    settings = _settings(tmp_path / "allowed", allow_ips=["10.0.0.0/8"])

    async def allowed(app: ListenerApp, http: httpx.AsyncClient) -> list[httpx.Response]:
        return [await http.get("/kassa24"), await http.post("/kassa24", content=_verify())]

    wrong_method, verify = _through(settings, ("10.1.2.3", 443), allowed)
    assert wrong_method.status_code == 405 and wrong_method.headers["allow"] == "POST"
    assert verify.status_code == 200 and verify.json()["code"] == 0
    assert _traffic(settings) == [(405, "http"), (200, "verify")]


def test_a_peer_past_its_budget_is_answered_only_when_signed(tmp_path: Path) -> None:
    settings = _settings(tmp_path, unverified_budget=2, max_body_bytes=1024)

    async def ask(app: ListenerApp, http: httpx.AsyncClient) -> list[httpx.Response]:
        answers = [await http.post("/kassa24", content=_verify(sign=False)) for _ in range(3)]
        answers.append(await http.post("/kassa24", content=_verify()))  # signed: answered all the same
        answers.append(await http.post("/kassa24", content=b"x" * 2000))  # the limit's, not the budget's
        answers.append(await http.get("/metrics"))
        return answers

    forged, forged_again, throttled, signed_verify, too_large, metrics = _through(settings, ("185.0.0.17", 443), ask)
    assert forged.json()["code"] != 0 and forged_again.json()["code"] != 0
    assert throttled.status_code == 429 and throttled.headers["retry-after"] == "60"
    assert signed_verify.status_code == 200 and signed_verify.json()["code"] == 0
    assert too_large.status_code == 413
    assert 'kassa24_requests_total{code="http_429",kind="throttled"} 1.0' in metrics.text
    statuses = [status for status, _kind in _traffic(settings)]
    assert statuses == [200, 200, 200, 413]  # the 429 counted, not stored; /metrics is not traffic


def test_a_streamed_body_past_the_limit_is_413_for_a_peer_past_its_budget(tmp_path: Path) -> None:
    """No content-length: the limit learns the size chunk by chunk, and the budget's watch
    over the body leaves a body past the limit to it."""
    settings = _settings(tmp_path, unverified_budget=1, max_body_bytes=1024, log_requests=False)

    async def ask(app: ListenerApp, http: httpx.AsyncClient) -> list[int]:
        await http.post("/kassa24", content=_verify(sign=False))  # the whole budget
        chunks = [b"{" + b" " * 799, b" " * 800]
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            chunk = chunks.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {"type": "http", "path": "/kassa24", "method": "POST", "headers": [], "client": ("185.0.0.17", 1)}
        await app(scope, receive, send)
        return [message["status"] for message in sent if message["type"] == "http.response.start"]

    assert _through(settings, ("185.0.0.17", 443), ask) == [413]
