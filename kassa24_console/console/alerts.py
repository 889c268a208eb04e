"""The Alerts pane: active alerts (since when, what, which channels got it), the recent
ones, and acknowledging one with a note. Channels appear as scheme and host only."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from ..alerts import state
from ..alerts.channels import display
from ..i18n import N_
from . import format as fmt
from .panes import ListPane
from .screens import DetailScreen, ResolveForm

RECENT = 50  # resolved alerts listed under the active ones


class AlertsPane(ListPane):
    TABLE_ID = "alerts-table"
    NOUN = "alerts"
    TABLES = ("alerts", "alert_deliveries")
    COLUMNS = [
        (N_("State"), "state", 8),
        (N_("Since"), "since", 16),
        (N_("Rule"), "rule", 18),
        (N_("What"), "what", 28),
        (N_("Channels"), "channels", 14),
        (N_("Acknowledged, resolved"), "done", 22),
    ]
    BINDINGS = [
        Binding("x", "acknowledge", "Acknowledge", id="alerts.acknowledge"),
        *ListPane.PAGING,
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.listing: state.Listing | None = None

    def compose(self) -> ComposeResult:
        yield Static(
            "Active alerts first, then the recent ones. Enter the message and its deliveries · "
            "x acknowledge with a note (no repeats until it resolves)",
            classes="hint",
        )
        yield Static("", id="alerts-channels", classes="hint", markup=False)
        yield self.make_table()

    def on_mount(self) -> None:
        names = [display(url.get_secret_value()) for url in self.k24.settings.alert_urls]  # never the URL
        text = (
            "channels here: " + ", ".join(names)
            if names
            else "no alert URLs here (alert_urls): this process evaluates no alerts; it shows those others send"
        )
        self.query_one("#alerts-channels", Static).update(text)

    async def count(self) -> int:
        self.listing = await state.listing(self.k24.store, RECENT)  # type: ignore[arg-type]
        return len(self.listing.active) + len(self.listing.recent)

    async def page(self) -> list[Any]:
        assert self.listing is not None
        return [*self.listing.active, *self.listing.recent]

    def cells(self, row: Any) -> list[Text]:
        zone = self.k24.zone
        if row.active_key is None:
            status, done = Text("resolved", style="green"), fmt.at_text(row.resolved_at, zone, minutes=True)
        elif row.acked_at is not None:
            status, done = Text("acked", style="yellow"), fmt.plain(f"{row.acked_by}: {row.ack_note}")
        else:
            status, done = Text("ACTIVE", style="bold red"), Text("")
        return [
            status,
            fmt.at_text(row.started_at, zone, minutes=True),
            Text(row.rule, style="bold"),
            fmt.plain(row.title),
            self._channels(row.id),
            done,
        ]

    def _channels(self, alert_id: int) -> Text:
        sent = self.listing.deliveries.get(alert_id, []) if self.listing else []
        if not sent:
            return Text("–", style="dim")
        failed = sum(not d.ok for d in sent)
        ok = len(sent) - failed
        if failed:
            return Text(f"{ok} ok, {failed} failed", style="bold red")
        return Text(f"{ok} ok", style="green")

    @on(DataTable.RowSelected, "#alerts-table")
    def _on_select(self) -> None:
        row = self.selected()
        if row is None:
            return
        zone = self.k24.zone
        lines = [f"Since {fmt.at_text(row.started_at, zone, with_date=True).plain} · sent {row.sends} time(s)"]
        if row.acked_at is not None:
            when = fmt.at_text(row.acked_at, zone, with_date=True).plain
            lines.append(f"Acknowledged by {row.acked_by} at {when}: {row.ack_note}")
        if row.resolved_at is not None:
            lines.append(f"Resolved at {fmt.at_text(row.resolved_at, zone, with_date=True).plain}")
        lines.append("")
        for d in self.listing.deliveries.get(row.id, []) if self.listing else []:
            when = fmt.at_text(d.at, zone, with_date=True).plain
            result = "delivered" if d.ok else f"NOT delivered after {d.attempts} attempt(s): {d.error}"
            lines.append(f"{when} {d.event} → {d.channel}: {result}")
        detail = DetailScreen(f"{row.rule} · {row.title}", row.text, "\n".join(lines), ("Message", "Deliveries"))
        self.app.push_screen(detail)

    def action_acknowledge(self) -> None:
        row = self.selected()
        store = self.k24.store
        if row is None or store is None:
            return
        if row.active_key is None:
            self.notify("This alert has resolved: there is nothing to acknowledge.", severity="warning")
            return

        async def save(values: dict[str, str]) -> None:
            await state.acknowledge(store, row.id, values["note"])
            self.notify(f"Alert {row.id} acknowledged: no repeats until it resolves.")
            await self.refresh_rows()

        self.app.push_screen(ResolveForm(f"Acknowledge {row.rule} · {row.title}", "", save))
