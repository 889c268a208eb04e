"""Driving the console through Pilot with its listener embedded."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from textual.widgets import TabbedContent

from kassa24_console.config import Settings
from kassa24_console.console.app import Kassa24App
from kassa24_console.console.lists import ListPane
from kassa24_console.console.panes import ContractsPane
from kassa24_console.console.screens import ContractForm
from kassa24_console.console.traffic import TrafficPane
from kassa24_console.protocol.signature import signed
from tests.support.common import PROJECT_ID, SECRET
from tests.support.seeding import seed_demo


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


LOOK = 0.02  # seconds between looks at a condition


async def until(pilot: Any, condition: Callable[[], bool], timeout: float = 20.0) -> None:
    """Let the app run until ``condition()`` holds; a generous deadline, short looks.

    Between looks the app runs on by itself and the screen is brought up to date, as a
    Pilot pause does, but without the pause's walk of every widget (a call queued on each
    and awaited: ~3 ms of CPU a look, most of what waiting cost)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(LOOK)
        pilot.app.screen._on_timer_update()  # what was changed is on the screen, as pause leaves it


@pytest.fixture
async def attached(tmp_path: Path) -> AsyncIterator[tuple[Kassa24App, Any]]:
    """The console attached to the demo data, with no listener process: for what is the
    console's own (keys, forms, drawing). The listener's process costs ~1 s of CPU to start;
    tests that send it requests use ``console`` (conftest)."""
    settings = make_settings(tmp_path)
    await seed_demo(settings)
    app = Kassa24App(settings, attach=True)
    async with app.run_test(size=(120, 40)) as pilot:
        yield app, pilot


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
    await pilot.pause()  # the toast rack is told later (call_later): let it run
    # No toast over the button, and the button no longer lit from the last press (Textual
    # ignores a click on a button still showing its press).
    await until(pilot, lambda: not app.screen.query("Toast") and not app.screen.query_one("#save").has_class("-active"))
    await pilot.click("#save")


TIMERS = ("traffic", "panes", "rates")


class Ticks:
    """The console's timer rounds, counted as they run: the traffic poll, a list pane's
    refresh and the header's rates (each timer's work, wrapped on its widget). A test waits
    for rounds to have run, not for seconds to pass."""

    def __init__(self, app: Kassa24App) -> None:
        self._app = app
        self.counts: Counter[str] = Counter()
        self._wrap("traffic", app.query_one(TrafficPane), "poll")
        for pane in app.query(ListPane).results(ListPane):
            self._wrap("panes", pane, "refresh_rows")
        self._wrap("rates", app.rates, "read")

    def _wrap(self, timer: str, owner: Any, name: str) -> None:
        work = getattr(owner, name)

        async def counted(*args: Any, **kwargs: Any) -> Any:
            try:
                return await work(*args, **kwargs)
            finally:
                self.counts[timer] += 1

        setattr(owner, name, counted)

    async def every_timer_ran(self, pilot: Any, timeout: float = 30.0) -> None:
        """Until each timer has run a whole round of its work since now."""
        before = Counter(self.counts)
        tabs = self._app.query_one(TabbedContent)

        def ran() -> bool:
            # the panes' timer refreshes the list shown: none while the traffic tab is; the
            # traffic poll reads only while its pane is shown (a hidden pane reads nothing)
            shown = "traffic" if tabs.active == "traffic" else "panes"
            needed = [t for t in TIMERS if t not in ("traffic", "panes") or t == shown]
            return all(self.counts[t] > before[t] for t in needed)

        try:
            await until(pilot, ran, timeout=timeout)
        except AssertionError:
            raise AssertionError(f"not every timer ran: {dict(before)} then {dict(self.counts)}") from None


def screen_text(app: Kassa24App) -> str:
    """What the screen shows now, line by line (the screen on top, as the terminal has it)."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


async def steady_screen(pilot: Any, looks: int = 3, timeout: float = 20.0) -> None:
    """Until the screen shows the same in ``looks`` looks in a row, its animations done: what
    a key or a read changed is drawn (a wait on the picture, not on a time)."""
    app = pilot.app
    seen: list[str] = []

    def steady() -> bool:
        seen.append(screen_text(app))
        return len(seen) >= looks and len(set(seen[-looks:])) == 1

    await pilot.wait_for_scheduled_animations()
    await until(pilot, steady, timeout)
    await pilot.wait_for_scheduled_animations()
