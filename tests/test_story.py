"""The payment id carried: our check_deposit answer and its traffic record keep the id we
minted, the payment's story finds its exchanges by it (not near the customer in time), never
shows an answer it did not record, and the Callbacks pane shows the answers we actually sent."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

import httpx

from kassa24_console import timeline
from kassa24_console.console.panes import CallbacksPane
from kassa24_console.console.screens import DetailScreen
from kassa24_console.protocol.signature import signed
from kassa24_console.runtime import Runtime
from kassa24_console.store import Store
from tests.support.bodies import callback_body, deposit_body
from tests.support.common import JSON, SECRET
from tests.support.console import make_settings, post, until
from tests.support.seeding import seed_demo

CUSTOMER, CONTRACT = "7012345678", "C-10001"  # the demo's


async def _exchange(client: httpx.AsyncClient, body: dict[str, Any], path: str = "/kassa24") -> httpx.Response:
    return await client.post(path, content=json.dumps(signed(body, SECRET)).encode(), headers=JSON)


def through_the_app(tmp_path: Path, bodies: list[tuple[dict[str, Any], str]]) -> tuple[str, list[httpx.Response]]:
    """Send ``bodies`` at once to the real ASGI app on a real SQLite file; the database URL
    and the answers, once every traffic record is written (the store is closed)."""
    settings = make_settings(tmp_path)

    async def run() -> list[httpx.Response]:
        await seed_demo(settings)
        runtime = Runtime(settings)
        await runtime.open(demo=False)
        try:
            transport = httpx.ASGITransport(app=runtime.app, client=("185.0.0.17", 443))
            async with httpx.AsyncClient(transport=transport, base_url="http://merchant") as client:
                return list(await asyncio.gather(*(_exchange(client, body, path) for body, path in bodies)))
        finally:
            await runtime.store.close()  # flushes the buffered traffic records

    answers = asyncio.run(run())
    assert settings.database_url is not None
    return settings.database_url, answers


def read(url: str, query: Any, *args: Any) -> Any:
    async def run() -> Any:
        store = Store(url)
        await store.open()
        try:
            return await store.scan(query, *args)
        finally:
            await store.close()

    return asyncio.run(run())


def rows(url: str, sql: str, *params: Any) -> list[sqlite3.Row]:
    with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
        connection.row_factory = sqlite3.Row
        return connection.execute(sql, params).fetchall()


def told(url: str, payment_id: str) -> dict[str, str]:
    return {e.what: e.detail for e in read(url, timeline.story, payment_id)}


def test_the_story_finds_its_check_deposit_by_payment_id_among_concurrent_payments(tmp_path: Path) -> None:
    amounts = [100_000 + 100 * i for i in range(6)]  # one customer, one contract, all within a second
    url, answers = through_the_app(tmp_path, [(deposit_body(CUSTOMER, CONTRACT, a), "/kassa24") for a in amounts])
    minted = [answer.json()["payment_id"] for answer in answers]
    assert len(set(minted)) == 6
    recorded = {r["payment_id"]: r["response"] for r in rows(url, "SELECT * FROM traffic WHERE kind = 'check_deposit'")}
    assert set(recorded) == set(minted)  # the traffic record carries the id the answer minted
    # Recorded late (a busy writer): no longer within 30 s of the deposit, still its exchange.
    with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
        connection.execute("UPDATE traffic SET at = at + 45000000 WHERE kind = 'check_deposit'")
    for payment_id, answer in zip(minted, answers, strict=True):
        detail = told(url, payment_id)["check_deposit"]
        assert f"→ {recorded[payment_id]};" in detail  # the answer as recorded, word for word
        assert json.loads(recorded[payment_id]) == answer.json()
        assert all(other not in detail for other in minted if other != payment_id)


def test_a_story_without_a_recorded_answer_says_so(tmp_path: Path) -> None:
    url, (answer,) = through_the_app(tmp_path, [(deposit_body(CUSTOMER, CONTRACT, 150_000), "/kassa24")])
    payment_id = answer.json()["payment_id"]
    with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
        connection.execute("DELETE FROM traffic")  # past the retention, pruned
    detail = told(url, payment_id)["check_deposit"]
    assert "no answer of ours is recorded" in detail
    assert '"code"' not in detail and payment_id not in detail  # nothing that looks recorded


def test_a_callbacks_recorded_answers_are_found_for_it_alone(tmp_path: Path) -> None:
    url, (answer,) = through_the_app(tmp_path, [(deposit_body(CUSTOMER, CONTRACT, 150_000), "/kassa24")])
    payment_id = answer.json()["payment_id"]
    settings = make_settings(tmp_path)

    async def deliver() -> list[int]:
        runtime = Runtime(settings)
        await runtime.open(demo=False)
        try:
            transport = httpx.ASGITransport(app=runtime.app, client=("185.0.0.17", 443))
            async with httpx.AsyncClient(transport=transport, base_url="http://merchant") as client:
                sent = [
                    callback_body(payment_id, "processing", 150_000, operation_id=5),
                    callback_body(payment_id, "success", 150_000, operation_id=5),
                    callback_body(payment_id, "success", 150_000, operation_id=5),  # delivered again
                ]
                return [(await _exchange(client, body, "/kassa24/callback")).status_code for body in sent]
        finally:
            await runtime.store.close()

    assert asyncio.run(deliver()) == [200, 200, 200]
    ids = {r["status"]: r["id"] for r in rows(url, "SELECT id, status FROM callbacks WHERE payment_id = ?", payment_id)}
    success = read(url, timeline.callback_detail, ids["success"])
    assert [(a.http_status, a.body) for a in success.answers] == [
        (200, {"status": "ok", "outcome": "applied"}),
        (200, {"status": "ok", "outcome": "duplicate"}),
    ]
    assert success.deposit["state"] == "paid"
    processing = read(url, timeline.callback_detail, ids["processing"])
    assert [a.body for a in processing.answers] == [{"status": "ok", "outcome": "recorded"}]


async def test_the_callbacks_pane_shows_the_answers_we_sent(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    await seed_demo(settings)
    from kassa24_console.console.app import Kassa24App

    app = Kassa24App(settings)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.listener_state == "listening")
        assert app.runtime is not None
        base = f"http://127.0.0.1:{app.runtime.listener.port}"
        payment_id = (await post(base, deposit_body(CUSTOMER, CONTRACT, 150_000))).json()["payment_id"]
        for _ in range(2):
            await post(base, callback_body(payment_id, amount=150_000), path="/kassa24/callback")
        forged = {**callback_body("k24_forged", amount=1), "signature": "A" * 86 + "=="}
        assert (await post(base, forged, path="/kassa24/callback", sign=False)).status_code == 400
        assert settings.database_url is not None
        recorded = "SELECT count(*) FROM traffic WHERE kind = 'callback'"
        await until(pilot, lambda: rows(settings.database_url, recorded)[0][0] == 3)
        await pilot.press("b")
        pane = app.query_one(CallbacksPane)
        await until(pilot, lambda: pane.table.row_count == 2)
        pane.table.focus()
        shown = {}
        for row in range(2):
            pane.table.move_cursor(row=row)
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, DetailScreen))
            forged_one = "k24_forged" in app.screen.query_one("#detail-request").text
            shown["forged" if forged_one else "paid"] = app.screen.query_one("#detail-response").text
            await pilot.press("escape")
            await until(pilot, lambda: not isinstance(app.screen, DetailScreen))
    assert '"outcome": "applied"' in shown["paid"] and '"outcome": "duplicate"' in shown["paid"]
    assert shown["paid"].count('"http": 200') == 2 and '"state": "paid"' in shown["paid"]
    assert '"http": 400' in shown["forged"] and '"error": "signature error"' in shown["forged"]
