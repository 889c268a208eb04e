"""The console's listener runs on its own loop: a slow screen never makes the platform wait,
and a busy listener never makes the operator wait (issue 24)."""

from __future__ import annotations

import re
import threading
import time
from typing import Any

import httpx
from sqlalchemy import event
from textual.widgets import TabbedContent

from kassa24_console.console.panes import ContractsPane
from kassa24_console.console.traffic import TrafficPane
from kassa24_console.protocol.signature import signed
from tests.support.bodies import callback_body, deposit_body, verify_body
from tests.support.common import SECRET
from tests.support.console import Ticks, post, until

HELD_FOR = 30.0  # seconds the test holds the console's loop in one redraw, at most
BUDGET = 5.0  # seconds a verify may take meanwhile (it takes milliseconds; the machine is shared)


async def test_the_listener_answers_within_its_budget_while_the_console_is_held_in_a_long_redraw(
    console: Any,
) -> None:
    app, pilot, url = console
    table = app.query_one(TrafficPane).table
    holding, released, over = threading.Event(), threading.Event(), threading.Event()
    answer: dict[str, Any] = {}
    draw = table.render_line

    def slow_redraw(y: int) -> Any:
        if y == 0 and not over.is_set():
            holding.set()
            deadline = time.monotonic() + HELD_FOR
            while not released.is_set() and time.monotonic() < deadline:
                pass  # pure Python, as a heavy redraw: holds the console's loop and the interpreter
            over.set()
        return draw(y)

    def platform() -> None:
        try:
            holding.wait(HELD_FOR)
            started = time.monotonic()
            body = signed(verify_body("7012345678"), SECRET)
            reply = httpx.post(url + "/kassa24", json=body, timeout=HELD_FOR * 2)
            answer.update(code=reply.json()["code"], seconds=time.monotonic() - started, held=not over.is_set())
        finally:
            released.set()

    table.render_line = slow_redraw  # type: ignore[method-assign]
    thread = threading.Thread(target=platform)
    thread.start()
    table.refresh()
    await until(pilot, over.is_set, timeout=HELD_FOR * 3)
    thread.join(HELD_FOR)
    assert answer["held"], "the verify was answered only after the redraw ended"
    assert answer["code"] == 0 and answer["seconds"] < BUDGET
    table.render_line = draw  # type: ignore[method-assign]


async def test_the_console_takes_keys_while_the_listener_is_saturated(console: Any) -> None:
    app, pilot, url = console
    stop = threading.Event()
    codes: list[int] = []

    def platform() -> None:
        with httpx.Client(timeout=30) as client:
            while not stop.is_set():
                reply = client.post(url + "/kassa24", json=signed(verify_body("7012345678"), SECRET))
                codes.append(reply.json()["code"])

    threads = [threading.Thread(target=platform) for _ in range(6)]
    for thread in threads:
        thread.start()
    try:
        await until(pilot, lambda: len(codes) > 200, timeout=30)
        tabs = app.query_one(TabbedContent)
        for key, tab in (("c", "contracts"), ("b", "callbacks"), ("m", "mismatches"), ("t", "traffic")):
            await pilot.press(key)
            await until(pilot, lambda tab=tab: tabs.active == tab, timeout=10)
        answered = len(codes)
        await until(pilot, lambda: len(codes) > answered + 50, timeout=30)  # still answering
        table = app.query_one(TrafficPane).table
        await until(pilot, lambda: table.row_count > 100, timeout=30)  # and the pane shows it
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    assert set(codes) == {0}


async def test_the_idle_and_the_busy_console_read_only_the_tables_that_changed(console: Any) -> None:
    """Per-table change counters (migration 0010): verifies write only traffic, so the
    Contracts pane and the header's mismatch count read nothing; a payment credits a
    contract, and only then the Contracts pane reads its tables again."""
    app, pilot, url = console
    store = app.store
    contracts = app.query_one(ContractsPane)
    await pilot.press("c")
    # The header's first read done whole (its stamp is taken before its reads finish).
    await until(pilot, lambda: contracts._read_at is not None and len(app.rates.shown) == 4)
    ticks = Ticks(app)
    await ticks.every_timer_ran(pilot)  # start-up's own writes are seen and settled
    seen: list[str] = []
    reader = store.db._reader

    def trace(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        dbapi_connection.set_trace_callback(seen.append)

    event.listen(reader, "checkout", trace)
    store.db._read_connection.connection.dbapi_connection.set_trace_callback(seen.append)
    try:
        await ticks.every_timer_ran(pilot)
        assert set(seen) == {"PRAGMA data_version"}  # idle: only "did anything change?"
        seen.clear()
        for _ in range(5):  # busy with verifies: traffic only
            assert (await post(url, verify_body("7012345678"))).json()["code"] == 0
        # The Traffic pane, hidden, reads nothing (issue 24): the header's counters read the traffic.
        await until(pilot, lambda: any(s.startswith("SELECT") and "FROM traffic" in s for s in seen))
        await ticks.every_timer_ran(pilot)  # every timer has seen the new traffic
        reads = [s for s in seen if s.startswith("SELECT")]
        assert any("FROM traffic" in s for s in reads)
        assert not [s for s in reads if re.search(r"\b(contracts|accounts|callbacks|mismatches)\b", s)], reads
        seen.clear()
        paid = (await post(url, deposit_body("7012345678", "C-10002", 150_000))).json()["payment_id"]
        assert (await post(url, callback_body(paid, amount=150_000), path="/kassa24/callback")).status_code == 200
        await until(pilot, lambda: any("FROM contracts" in s for s in seen), timeout=10)
    finally:
        event.remove(reader, "checkout", trace)
        store.db._read_connection.connection.dbapi_connection.set_trace_callback(None)
