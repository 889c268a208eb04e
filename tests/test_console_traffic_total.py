"""The Traffic pane's "N of M shown" stays true without recounting the whole table: when more
rows came than a poll reads (the pane was hidden, or the listener busy), only the new range of
ids is counted."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

import httpx

from kassa24_console.console.traffic import WINDOW, TrafficPane
from kassa24_console.protocol.signature import signed
from tests.support.bodies import verify_body
from tests.support.common import SECRET
from tests.support.console import until


async def _verifies(url: str, count: int) -> None:
    """``count`` real verifies, a few at a time on kept connections."""
    async with httpx.AsyncClient(timeout=60.0) as client:
        for start in range(0, count, 20):
            batch = [
                client.post(url + "/kassa24", json=signed(verify_body("7012345678"), SECRET))
                for _ in range(min(20, count - start))
            ]
            answers = await asyncio.gather(*batch)
            assert {answer.json()["code"] for answer in answers} == {0}


def _traffic_rows(app: Any) -> int:
    path = app.settings.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT count(*) FROM traffic").fetchone()[0])


async def test_catching_up_counts_only_the_ids_that_came(console: Any) -> None:
    app, pilot, url = console
    pane = app.query_one(TrafficPane)
    await pilot.press("t")
    await _verifies(url, 3)
    await until(pilot, lambda: pane._total is not None and pane.table.row_count == pane._total)
    await pilot.press("c")  # hidden: the pane reads nothing while more than a window arrives
    await _verifies(url, WINDOW + 25)
    await until(pilot, lambda: _traffic_rows(app) >= WINDOW + 28)
    expected = _traffic_rows(app)
    reads: list[str] = []
    scan = app.store.scan

    async def counted(query: Any, *args: Any) -> Any:
        reads.append(query.__name__)
        return await scan(query, *args)

    app.store.scan = counted
    await pilot.press("t")
    await until(pilot, lambda: pane._total == expected and pane.table.row_count == WINDOW)
    assert "traffic_count_between" in reads
    assert "traffic_total" not in reads, "the whole table was counted again"
    state = str(pane.query_one("#traffic-state").render())
    assert f"{WINDOW} of {expected}" in state
