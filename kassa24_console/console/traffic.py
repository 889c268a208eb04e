"""The traffic pane: every exchange as it arrives, with follow, filter and detail."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widgets import DataTable, Input, Static

from ..filters import TrafficFilter, parse_filter
from ..store import views
from . import format as fmt
from .screens import DetailScreen

if TYPE_CHECKING:
    from .app import Kassa24App

WINDOW = 500  # rows kept in the live table; older ones are paged from the store
PAGE = 200


class TailTable(DataTable[Any]):
    """A table that says when the operator moves away from the newest row."""

    class Paused(Message):
        """The operator scrolled or moved up: stop following."""

    class Follow(Message):
        """End (or ctrl+end): back to the newest row, following again."""

    def _pause(self) -> None:
        self.post_message(self.Paused())

    def action_cursor_up(self) -> None:
        self._pause()
        super().action_cursor_up()

    def action_page_up(self) -> None:
        self._pause()
        super().action_page_up()

    def action_scroll_top(self) -> None:
        self._pause()
        super().action_scroll_top()

    def action_scroll_end(self) -> None:
        self.post_message(self.Follow())

    def action_scroll_bottom(self) -> None:
        self.post_message(self.Follow())

    def _on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self._pause()
        super()._on_mouse_scroll_up(event)

    async def _on_click(self, event: events.Click) -> None:
        self._pause()
        await super()._on_click(event)


class TrafficPane(Vertical):
    """Tails the traffic table; pauses when the operator scrolls up, resumes on End."""

    BINDINGS = [
        Binding("end", "follow", "Follow", id="traffic.follow"),
        Binding("slash", "focus_filter", "Filter", id="traffic.filter"),
        Binding("left_square_bracket", "older", "Older", id="traffic.older"),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.follow = True
        self.filter = TrafficFilter()
        self._keys: list[int] = []  # traffic ids in the table, oldest first
        self._last_id = 0
        self._pending = 0
        self._debounce: Timer | None = None

    @property
    def k24(self) -> Kassa24App:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield Input(
            placeholder="filter: kind:verify code:500 customer:7012 contract:C-1 sig:bad text", id="traffic-filter"
        )
        yield Static("", id="traffic-state")
        table = TailTable(id="traffic-table", cursor_type="row", zebra_stripes=True)
        table.add_column("Time", key="time", width=8)
        table.add_column("Kind", key="kind", width=13)
        table.add_column("Customer", key="customer", width=12)
        table.add_column("Contract", key="contract", width=10)
        table.add_column(Text("Amount", justify="right"), key="amount", width=14)
        table.add_column(Text("Code", justify="right"), key="code", width=8)
        table.add_column(Text("Latency", justify="right"), key="latency", width=9)
        table.add_column("Sig", key="sig", width=3)
        table.add_column("Peer", key="peer", width=21)
        yield table

    @property
    def table(self) -> DataTable[Any]:
        return self.query_one("#traffic-table", DataTable)

    def _cells(self, row: Any) -> list[Text]:
        zone = self.k24.zone
        return [
            fmt.at_text(row.at, zone),
            fmt.plain(row.kind),
            fmt.plain(row.customer_id),
            fmt.plain(row.contract_id),
            fmt.money(row.amount),
            fmt.code_text(row.code, row.http_status),
            fmt.latency_text(row.latency_us),
            fmt.signature_text(row.signature_ok),
            fmt.plain(row.peer),
        ]

    # --- data ------------------------------------------------------------------------------

    async def poll(self) -> None:
        """Fetch what arrived since the last look; the app calls this on a timer."""
        store = self.k24.store
        if store is None:
            return
        rows = await store.read(views.traffic_after, self._last_id, self.filter, WINDOW)
        if not rows:
            return
        self._last_id = rows[-1].id
        if not self.follow:
            self._pending += len(rows)
            self._show_state()
            return
        self._append(rows)

    def _append(self, rows: list[Any]) -> None:
        table = self.table
        with self.app.batch_update():
            for row in rows:
                table.add_row(*self._cells(row), key=str(row.id))
                self._keys.append(row.id)
            excess = len(self._keys) - WINDOW
            if excess > 0:
                for key in self._keys[:excess]:
                    table.remove_row(str(key))
                del self._keys[:excess]
            self._to_last_row()
        self._show_state()

    def _to_last_row(self) -> None:
        table = self.table
        if table.row_count:
            table.move_cursor(row=table.row_count - 1, animate=False)

    async def reload(self) -> None:
        """Rebuild from the newest matching rows (filter changed, or follow resumed)."""
        store = self.k24.store
        if store is None:
            return
        rows = await store.read(views.traffic_after, 0, self.filter, WINDOW)
        self.table.clear()
        self._keys = []
        self._pending = 0
        self._last_id = rows[-1].id if rows else 0
        self._append(rows)

    # --- follow ----------------------------------------------------------------------------

    def pause(self) -> None:
        if self.follow:
            self.follow = False
            self._show_state()

    async def action_follow(self) -> None:
        self.follow = True
        await self.reload()
        self.table.focus()

    @on(TailTable.Paused)
    def _on_paused(self) -> None:
        self.pause()

    @on(TailTable.Follow)
    async def _on_follow(self) -> None:
        await self.action_follow()

    def _show_state(self) -> None:
        if self.filter.problems:
            text = Text("filter: " + "; ".join(self.filter.problems), style="bold red")
        elif self.follow:
            text = Text(f"▶ following · {len(self._keys)} rows", style="green")
        else:
            text = Text(f"⏸ paused · {self._pending} new · End to follow", style="yellow")
        if not self.filter.empty and not self.filter.problems:
            text.append("  · filtered", style="cyan")
        self.query_one("#traffic-state", Static).update(text)

    # --- filter, paging, detail ------------------------------------------------------------

    @on(Input.Changed, "#traffic-filter")
    def _on_filter(self, event: Input.Changed) -> None:
        self.filter = parse_filter(event.value)
        if self._debounce is not None:
            self._debounce.stop()
        self._debounce = self.set_timer(0.15, self.reload)

    @on(Input.Submitted, "#traffic-filter")
    def _on_filter_done(self) -> None:
        self.table.focus()

    def action_focus_filter(self) -> None:
        self.query_one("#traffic-filter", Input).focus()

    async def action_older(self) -> None:
        store = self.k24.store
        if store is None or not self._keys:
            return
        self.pause()
        older = await store.read(views.traffic_before, self._keys[0], self.filter, PAGE)
        if not older:
            self.notify("No older traffic.")
            return
        rows = await store.read(views.traffic_from, older[0].id, self.filter, WINDOW)
        table = self.table
        table.clear()
        self._keys = []
        with self.app.batch_update():
            for row in rows:
                table.add_row(*self._cells(row), key=str(row.id))
                self._keys.append(row.id)
        table.move_cursor(row=len(older) - 1, animate=False)
        self._show_state()

    @on(DataTable.RowSelected, "#traffic-table")
    async def _on_select(self, event: DataTable.RowSelected) -> None:
        store = self.k24.store
        if store is None or event.row_key.value is None:
            return
        row = await store.read(views.traffic_detail, int(event.row_key.value))
        if row is None:
            return
        title = f"{row.kind} · {fmt.at_text(row.at, self.k24.zone, with_date=True)} · from {row.peer}"
        self.app.push_screen(DetailScreen(title, pretty_json(row.request), pretty_json(row.response)))


def pretty_json(text: str) -> str:
    """Indented JSON when it parses, else the text as received."""
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text
