"""Driving the console through Pilot with its listener embedded."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from kassa24_console.config import Settings
from kassa24_console.console.app import Kassa24App
from kassa24_console.console.panes import ContractsPane
from kassa24_console.console.screens import ContractForm
from kassa24_console.protocol.signature import signed
from tests.support.common import PROJECT_ID, SECRET


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


async def until(pilot: Any, condition: Callable[[], bool], timeout: float = 20.0) -> None:
    """Let the app run until ``condition()`` holds; a generous deadline, short looks."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.02)


async def post(url: str, body: dict[str, Any] | bytes, path: str = "/kassa24", sign: bool = True) -> httpx.Response:
    # A generous deadline: on a machine with every core busy the listener's process may take
    # seconds to be scheduled; the tests assert what it answers, not how fast.
    async with httpx.AsyncClient(timeout=60.0) as client:
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
