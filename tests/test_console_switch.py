"""A pane switch costs only what it must (issue 24): what was drawn stays drawn, what is hidden
does not read the store, and nothing on the loop waits for the switch."""

from __future__ import annotations

import gc
import time
import weakref
from typing import Any

from textual.widget import Widget
from textual.widgets import TabbedContent

from kassa24_console.console import format as fmt
from kassa24_console.console import heap
from kassa24_console.console.app import Kassa24App
from kassa24_console.console.language import Words
from kassa24_console.console.panes import ContractsPane
from kassa24_console.console.traffic import TrafficPane
from tests.support.bodies import callback_body, deposit_body, verify_body
from tests.support.console import attached, make_settings, post, steady_screen, until
from tests.support.seeding import seed_demo

__all__ = ["attached"]  # the fixture, used by name


class Drawn:
    """Counts what a list table draws: whole renders (frames that include it) and cells."""

    def __init__(self, table: Any) -> None:
        self.renders = 0
        self.cells = 0
        render_lines, render_cell = table.render_lines, table._render_cell

        def lines(*args: Any) -> Any:
            self.renders += 1
            return render_lines(*args)

        def cell(*args: Any, **kwargs: Any) -> Any:
            self.cells += 1
            return render_cell(*args, **kwargs)

        table.render_lines, table._render_cell = lines, cell


async def _shown_and_drawn(pilot: Any, key: str, drawn: Drawn) -> None:
    """Press ``key`` and wait until the table is on screen again (drawn into a frame)."""
    renders = drawn.renders
    await pilot.press(key)
    await until(pilot, lambda: drawn.renders > renders)


async def _contracts_drawn(app: Any, pilot: Any) -> tuple[Any, Drawn]:
    """The Contracts pane on screen, its rows drawn and settled: the first time a table is
    shown, a Resize after its first frame has it draw its rows once more."""
    table = app.query_one(ContractsPane).table
    drawn = Drawn(table)
    await _shown_and_drawn(pilot, "c", drawn)
    await until(pilot, lambda: table.row_count == 10 and drawn.cells > 0)
    await pilot.press("t")
    await until(pilot, lambda: not table.has_focus)
    await _shown_and_drawn(pilot, "c", drawn)
    return table, drawn


async def test_a_list_shown_again_is_not_drawn_again(attached: Any) -> None:
    app, pilot = attached
    table, drawn = await _contracts_drawn(app, pilot)
    assert table.has_focus
    for _ in range(3):
        await pilot.press("t")
        await until(pilot, lambda: not table.has_focus)
        before = drawn.cells
        await _shown_and_drawn(pilot, "c", drawn)
        assert table.has_focus
        assert drawn.cells == before, "the page was drawn again on a pane switch"


async def test_a_new_theme_draws_the_rows_again(attached: Any) -> None:
    """Kept rows are kept only while the table looks the same: a theme draws them anew."""
    app, pilot = attached
    table = app.query_one(ContractsPane).table
    drawn = Drawn(table)
    await _shown_and_drawn(pilot, "c", drawn)
    await until(pilot, lambda: table.row_count == 10 and drawn.cells > 0)
    await steady_screen(pilot)  # the first page is drawn whole before the theme changes
    before = drawn.cells
    app.theme = "textual-light" if app.theme != "textual-light" else "textual-dark"
    await until(pilot, lambda: drawn.cells >= before + 10 * len(table.columns))


class Reads:
    """Which store queries the console runs (by name), from now on."""

    def __init__(self, app: Any) -> None:
        self.names: list[str] = []
        store = app.store
        scan = store.scan

        async def counted(query: Any, *args: Any) -> Any:
            self.names.append(getattr(query, "__name__", repr(query)))
            return await scan(query, *args)

        store.scan = counted


async def test_a_hidden_traffic_pane_reads_nothing_and_catches_up_when_shown(console: Any) -> None:
    app, pilot, url = console
    pane = app.query_one(TrafficPane)
    await pilot.press("c")
    reads = Reads(app)
    assert (await post(url, verify_body("7012345678"))).json()["code"] == 0
    # The header's counters read the new row (every 2 s): the traffic ticks (every 0.25 s) ran meanwhile.
    await until(pilot, lambda: "traffic_counts_after" in reads.names)
    await until(pilot, lambda: reads.names.count("traffic_counts_after") >= 2)
    assert not {"traffic_after", "traffic_total"} & set(reads.names), "a hidden pane read the traffic"
    assert pane.table.row_count == 0
    await pilot.press("t")
    await until(pilot, lambda: pane.table.row_count == 1)
    assert pane.table.plain_row(0)[2] == "7012345678"


async def test_a_payment_credited_redraws_only_its_contract(console: Any) -> None:
    """A due that changes under payments redraws its row, not the page (a DataTable's own
    update forgets every drawn cell)."""
    app, pilot, url = console
    pane = app.query_one(ContractsPane)
    table, drawn = await _contracts_drawn(app, pilot)
    due = pane.rows["C-10002"].payment
    before = drawn.cells
    paid = (await post(url, deposit_body("7012345678", "C-10002", 150_000))).json()["payment_id"]
    assert (await post(url, callback_body(paid, amount=150_000), path="/kassa24/callback")).status_code == 200
    await until(pilot, lambda: pane.rows["C-10002"].payment == due - 150_000)
    await until(pilot, lambda: drawn.cells > before)  # its frame: every row on screen is put together
    assert table.get_row("C-10002")[4].plain == fmt.money(due - 150_000).plain
    assert 0 < drawn.cells - before <= len(table.columns), "more than the credited row was drawn again"


async def test_start_up_is_kept_out_of_the_collectors_full_passes(tmp_path: Any, monkeypatch: Any) -> None:
    """A full collection walked start-up's ~250 000 objects (100–185 ms on the loop) every few
    seconds: once the first frame is out they are frozen, and thawed when the console closes;
    start-up's garbage is collected before, not frozen with the rest."""
    monkeypatch.setattr(heap.Heap, "collect_at_settle", True)  # as a console process has it
    settings = make_settings(tmp_path)
    await seed_demo(settings)
    app = Kassa24App(settings, attach=True)
    garbage = _old_garbage()
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: gc.get_freeze_count() > 100_000)
        assert garbage() is None, "start-up's garbage was frozen"
    assert gc.get_freeze_count() == 0


def _old_garbage() -> Any:
    """A cycle that only a full pass collects (it has lived through the young ones), dropped:
    a weak reference to it."""

    class Cycle:
        me: Any = None

    cycle = Cycle()
    cycle.me = cycle  # a cycle: reference counting never frees it
    gc.collect()  # it survives, in the oldest generation
    gone = weakref.ref(cycle)
    del cycle
    return gone


def test_settle_collects_start_ups_garbage_only_when_asked() -> None:
    """The suite turns the pass at settle off (it starts hundreds of consoles): then start-up's
    garbage is frozen with the rest, and collected only once the console closes."""
    for collect in (True, False):
        keeper = heap.Heap()
        keeper.collect_at_settle = collect
        threshold = gc.get_threshold()
        gc.set_threshold(threshold[0], threshold[1], heap.NEVER)  # no pass of Python's own in between
        try:
            garbage = _old_garbage()
            keeper.settle()
            assert (garbage() is None) is collect
        finally:
            keeper.release()
            gc.set_threshold(*threshold)
        gc.collect()
        assert garbage() is None


async def test_full_collections_wait_for_a_quiet_moment(tmp_path: Any, monkeypatch: Any) -> None:
    """Python starts a full collection in the middle of an allocation, most often a pane
    switch's (40–330 ms under payments, the slowest switches): the console runs them itself,
    only once no key came for a while; the collector's own thresholds are back on exit."""
    monkeypatch.setattr(heap, "EVERY", 0.1)
    monkeypatch.setattr(heap, "QUIET", 0.5)
    settings = make_settings(tmp_path)
    await seed_demo(settings)
    app = Kassa24App(settings, attach=True)
    before = gc.get_threshold()
    since_key: list[float] = []

    def full_pass(phase: str, info: dict[str, Any]) -> None:
        if phase == "stop" and info["generation"] == 2:
            since_key.append(time.monotonic() - app.heap.last_key)

    kept: list[Any] = []
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: gc.get_threshold()[2] == heap.NEVER)
        gc.callbacks.append(full_pass)
        try:
            for i in range(12):
                await pilot.press("c" if i % 2 == 0 else "t")
                kept.append([[] for _ in range(30_000)])  # growth that starts a full pass by Python's count
            passes = app.heap.full_passes
            await until(pilot, lambda: app.heap.full_passes > passes)  # quiet now: the console collects
        finally:
            gc.callbacks.remove(full_pass)
        assert since_key and min(since_key) >= heap.QUIET, since_key
    assert gc.get_threshold() == before


async def test_a_pane_switch_builds_the_footer_once(attached: Any, monkeypatch: Any) -> None:
    """Focus leaving one table and reaching the next each asked the footer to rebuild its
    keys: it rebuilds only when they changed, once a switch."""
    app, pilot = attached
    built: list[str] = []
    rebuild = Widget.recompose

    async def counted(self: Widget) -> None:
        if isinstance(self, Words):
            built.append(app.query_one(TabbedContent).active)
        await rebuild(self)

    monkeypatch.setattr(Widget, "recompose", counted)
    for key, tab in (("c", "contracts"), ("t", "traffic"), ("c", "contracts"), ("t", "traffic")):
        await pilot.press(key)
        await until(pilot, lambda tab=tab: built[-1:] == [tab])
        await steady_screen(pilot)
    assert built == ["contracts", "traffic", "contracts", "traffic"]


def test_an_operator_who_never_pauses_still_gets_a_full_pass_a_minute() -> None:
    keeper = heap.Heap()
    keeper.settle()
    try:
        keeper.key()
        keeper.collect_when_quiet()
        assert keeper.full_passes == 0  # a key just now, a pass just now: nothing
        keeper.last_full -= heap.LONGEST  # a minute of keys with no quiet second in it
        keeper.key()
        keeper.collect_when_quiet()
        assert keeper.full_passes == 1
        keeper.key()
        keeper.collect_when_quiet()
        assert keeper.full_passes == 1  # and then not again for another minute
    finally:
        keeper.release()
    assert gc.get_threshold()[2] != heap.NEVER
