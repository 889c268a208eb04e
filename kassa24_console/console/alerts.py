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
from ..alerts.words import event_word, rule_name, title_text
from ..i18n import N_, _, ngettext, pgettext
from ..store.alerts import AlertRow
from . import format as fmt
from .lists import ListPane
from .messages import AcknowledgeAlert
from .said import Said
from .screens import DetailScreen

RECENT = 50  # resolved alerts listed under the active ones


class AlertsPane(ListPane[AlertRow]):
    TABLE_ID = "alerts-table"
    NOUN = "alerts"
    NOUN_WORD = N_("alerts")
    TABLES = ("alerts", "alert_deliveries")
    # An alert may be one project's (a previous key still in use): filtered by project like the
    # other panes; one about the whole install shows under every project.
    COLUMNS = [
        (N_("State"), "state", 10),
        (N_("Since"), "since", 16),
        (N_("Rule"), "rule", 20),
        (N_("What"), "what", 28),
        (N_("Channels"), "channels", 14),
        (N_("Acknowledged, resolved"), "done", 22),
    ]
    BINDINGS = [
        Binding(
            "x",
            "acknowledge",
            N_("Acknowledge"),
            id="alerts.acknowledge",
            tooltip=N_("acknowledge with a note: no repeats until it resolves"),
        ),
        *ListPane.PAGING,
    ]

    def __init__(self, context: Any, **kwargs: Any) -> None:
        super().__init__(context, **kwargs)
        self.listing: state.Listing | None = None

    def compose(self) -> ComposeResult:
        yield Said(
            N_(
                "Active alerts first, then the recent ones. Enter the message and its deliveries · "
                "x acknowledge with a note (no repeats until it resolves)"
            ),
            classes="hint",
        )
        yield Static("", id="alerts-channels", classes="hint", markup=False)
        if self.by_project:  # where the list is, with the project filter (P) it shows
            yield self.where_line()
        yield self.make_table()

    def on_mount(self) -> None:
        self.say_channels()

    def say_channels(self) -> None:
        names = [display(url.get_secret_value()) for url in self.context.settings.alert_urls]  # never the URL
        text = (
            _("channels here: {names}").format(names=", ".join(names))
            if names
            else _("no alert URLs here (alert_urls): this process evaluates no alerts; it shows those others send")
        )
        self.query_one("#alerts-channels", Static).update(text)

    def relabel(self) -> None:
        super().relabel()
        self.say_channels()

    async def count(self) -> int:
        self.listing = await state.listing(self.store, RECENT, self.project)
        return len(self.listing.active) + len(self.listing.recent)

    async def page(self) -> list[AlertRow]:
        assert self.listing is not None
        return [*self.listing.active, *self.listing.recent]

    def cells(self, row: AlertRow) -> list[Text]:
        zone = self.context.zone
        if row.active_key is None:
            status, done = (
                Text(pgettext("alert", "resolved"), style="green"),
                fmt.at_text(row.resolved_at, zone, minutes=True),
            )
        elif row.acked_at is not None:
            status, done = Text(_("acked"), style="yellow"), fmt.plain(f"{row.acked_by}: {row.ack_note}")
        else:
            status, done = Text(_("ACTIVE"), style="bold red"), Text("")
        return [
            status,
            fmt.at_text(row.started_at, zone, minutes=True),
            Text(rule_name(row.rule), style="bold"),
            fmt.plain(title_text(row.title)),
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
            return Text(_("{ok} ok, {failed} failed").format(ok=ok, failed=failed), style="bold red")
        return Text(_("{ok} ok").format(ok=ok), style="green")

    @on(DataTable.RowSelected, "#alerts-table")
    def _on_select(self) -> None:
        row = self.selected()
        if row is None:
            return
        zone = self.context.zone
        since = fmt.at_text(row.started_at, zone, with_date=True).plain
        sent = ngettext("Since {since} · sent {n} time", "Since {since} · sent {n} times", row.sends)
        lines = [sent.format(since=since, n=row.sends)]
        if row.acked_at is not None:
            when = fmt.at_text(row.acked_at, zone, with_date=True).plain
            lines.append(
                _("Acknowledged by {who} at {when}: {note}").format(who=row.acked_by, when=when, note=row.ack_note)
            )
        if row.resolved_at is not None:
            lines.append(_("Resolved at {when}").format(when=fmt.at_text(row.resolved_at, zone, with_date=True).plain))
        lines.append("")
        for d in self.listing.deliveries.get(row.id, []) if self.listing else []:
            when = fmt.at_text(d.at, zone, with_date=True).plain
            result = (
                _("delivered")
                if d.ok
                else ngettext(
                    "NOT delivered after {n} attempt: {error}", "NOT delivered after {n} attempts: {error}", d.attempts
                ).format(n=d.attempts, error=d.error)
            )
            lines.append(f"{when} {event_word(d.event)} → {d.channel}: {result}")
        title = f"{rule_name(row.rule)} · {title_text(row.title)}"
        detail = DetailScreen(title, row.text, "\n".join(lines), (_("Message"), _("Deliveries")))
        self.app.push_screen(detail)

    def action_acknowledge(self) -> None:
        row = self.selected()
        if row is not None:
            self.post_message(AcknowledgeAlert(row))
