"""The traffic pane: every exchange as it arrives, with follow, filter and detail."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.timer import Timer
from textual.widgets import Input, Static

from ..filters import TrafficFilter, parse_filter
from ..i18n import N_, _
from ..reasons import reason_text, short_reason
from ..store import views
from ..store.rows import TrafficLine
from . import format as fmt
from . import project_filter
from .context import Context
from .messages import ShowStory
from .said import Asking
from .screens import DetailScreen
from .tail import Column, TailView, header_of

WINDOW = 300  # rows kept in the live list; older ones are paged from the store
PAGE = 200
BUSY_ROWS = 50  # a poll that brings more rows than this slows polling to 0.5 s
BUSY_SKIP = 1  # ticks skipped while busy (the app ticks every 0.25 s)

FILTER_HINT = N_("filter: kind:verify code:500 customer:7012 contract:C-1 sig:bad text")
COLUMNS: list[Column] = [
    (N_("Time"), 11, "left"),
    (N_("Kind"), 13, "left"),
    (N_("Customer"), 14, "left"),
    (N_("Contract"), 12, "left"),
    (N_("Amount"), 14, "right"),
    (N_("Code"), 8, "right"),
    (N_("Latency"), 9, "right"),
    (N_("Sig"), 3, "left"),
    (N_("Peer"), 21, "left"),
    (N_("Reason"), 60, "left"),
]


class TrafficPane(Vertical):
    """Tails the traffic table; pauses when the operator moves up, resumes on End."""

    BINDINGS = [
        Binding(
            "end", "follow", N_("Follow"), id="traffic.follow", tooltip=N_("follow new rows again (moving up pauses)")
        ),
        Binding(
            "slash", "focus_filter", N_("Filter"), id="traffic.filter", tooltip=N_("filter (a payment id works too)")
        ),
        Binding("left_square_bracket", "older", N_("Older"), id="traffic.older", tooltip=N_("page back to older rows")),
        Binding("s", "story", N_("Story"), id="traffic.story", tooltip=N_("the payment's story, in order")),
        project_filter.BINDING,
    ]

    def __init__(self, context: Context, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.context = context  # settings, zone and store: given when built, read through
        self.follow = True
        self.filter = TrafficFilter()
        self.project: int | None = None  # the project filter: None, every project
        self._last_id = 0
        self._pending = 0
        self._skip = 0
        self._polled_version: Any = None
        self._state_text = Text()
        self._total: int | None = None  # matching records in the store, counted on rebuild
        self._debounce: Timer | None = None
        self._reason_text = ""

    @property
    def by_project(self) -> bool:
        return self.context.settings.several

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cycle_project":
            return self.by_project
        return True

    async def action_cycle_project(self) -> None:
        self.project = project_filter.following(self.context.settings, self.project)
        self.filter = replace(self.filter, project=self.project)
        await self.reload()

    def columns(self) -> list[Column]:
        if not self.by_project:
            return COLUMNS
        label, _key, width = project_filter.COLUMN
        return [(label, width, "right"), *COLUMNS]

    def compose(self) -> ComposeResult:
        yield Asking(FILTER_HINT, id="traffic-filter")
        yield Static("", id="traffic-state")
        yield Static(header_of(self.columns()), id="traffic-header")
        yield TailView(self.columns(), self._cells, id="traffic-table")
        yield Static("", id="traffic-reason", markup=False)

    def on_mount(self) -> None:
        self._show_state()
        self.query_one("#traffic-reason", Static).display = False
        self.table.on_move = self._show_reason

    @property
    def table(self) -> TailView[TrafficLine]:
        return self.query_one("#traffic-table", TailView)

    def _cells(self, row: TrafficLine) -> list[Text]:
        zone = self.context.zone
        mine = [project_filter.cell(row)] if self.by_project else []
        return [
            *mine,
            fmt.at_text(row.at, zone),
            fmt.plain(fmt.kind_text(row.kind)),
            fmt.plain(row.customer_id),
            fmt.plain(row.contract_id),
            fmt.money(row.amount),
            fmt.code_text(row.code, row.http_status),
            fmt.latency_text(row.latency_us),
            fmt.signature_text(row.signature_ok),
            fmt.plain(row.peer),
            fmt.plain(short_reason(row.reason)),  # the reason of a non-zero code, short
        ]

    # --- data ------------------------------------------------------------------------------

    async def poll(self) -> None:
        """Fetch what arrived since the last look; the app calls this on a timer."""
        store = self.context.store
        if store is None:
            return
        if self._skip:
            self._skip -= 1  # under load, fewer and larger batches: each redraw has a fixed cost
            return
        stamp = await store.stamp(("traffic",))
        if stamp is not None and stamp == self._polled_version:
            return  # no traffic written since the last look: nothing to read
        self._polled_version = stamp
        counted = self._total is None
        if counted:
            self._total = await store.scan(views.traffic_total, self.filter)
        rows = await store.scan(views.traffic_after, self._last_id, self.filter, WINDOW)
        self._skip = BUSY_SKIP if len(rows) > BUSY_ROWS else 0
        if not rows:
            return
        if not counted and self._total is not None:  # counted once at start; new rows add to it
            came = len(rows)
            if came >= WINDOW:  # more may have come than were read (hidden, or busy): count them by id
                came = await store.scan(views.traffic_count_between, self._last_id, rows[-1].id, self.filter)
            self._total += came
        self._last_id = rows[-1].id
        if not self.follow:
            self._pending += len(rows)
            self._show_state()
            return
        self._append(rows)

    def _append(self, rows: list[TrafficLine]) -> None:
        table = self.table
        table.append([(row.id, row) for row in rows], keep=WINDOW)
        table.to_last()
        self._show_state()

    async def reload(self) -> None:
        """Rebuild from the newest matching rows (filter changed, or follow resumed)."""
        store = self.context.store
        if store is None:
            return
        rows = await store.scan(views.traffic_after, 0, self.filter, WINDOW)
        self._total = await store.scan(views.traffic_total, self.filter)
        self.table.clear()
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

    def redraw(self) -> None:
        """Every word of the pane again, in the language now in use."""
        self.table.redraw()
        self._state_text = Text()
        self._show_state()
        if self.table.keys:
            self._show_reason(self.table.rows[self.table.cursor])

    def _show_reason(self, row: TrafficLine) -> None:
        """The whole reason of the row under the cursor, wrapped (the column is narrow)."""
        reason = row.reason or ""
        at = fmt.at_text(row.at, self.context.zone).plain
        text = (
            _("{kind} at {at}: {reason}").format(kind=fmt.kind_text(row.kind), at=at, reason=reason_text(reason))
            if reason
            else ""
        )
        widget = self.query_one("#traffic-reason", Static)
        if text != self._reason_text:
            self._reason_text = text
            widget.update(text)
            widget.display = bool(text)

    @on(TailView.Paused)
    def _on_paused(self) -> None:
        self.pause()

    @on(TailView.Follow)
    async def _on_follow(self) -> None:
        await self.action_follow()

    def _show_state(self) -> None:
        if self.filter.problems:
            text = Text(_("filter: {problems}").format(problems="; ".join(self.filter.problems)), style="bold red")
        elif self.follow:
            text = Text(_("▶ following"), style="green")
        else:
            text = Text(_("⏸ paused · {n} new · End to follow").format(n=self._pending), style="yellow")
        if not self.filter.empty and not self.filter.problems:
            text.append(_("  · filtered"), style="cyan")
        if self.by_project:
            text.append(project_filter.note(self.context.settings, self.project), style="cyan")
        if self._total is not None and self._total > len(self.table.keys):
            total = f"{self._total:,}".replace(",", " ")
            shown = _("  · {shown} of {total} shown · [ older").format(shown=len(self.table.keys), total=total)
            text.append(shown, style="dim")
        if text != self._state_text:  # an update costs a redraw; most ticks change nothing here
            self._state_text = text
            self.query_one("#traffic-state", Static).update(text, layout=False)

    # --- filter, paging, detail ------------------------------------------------------------

    @on(Input.Changed, "#traffic-filter")
    def _on_filter(self, event: Input.Changed) -> None:
        self.filter = replace(parse_filter(event.value), project=self.project)
        if self._debounce is not None:
            self._debounce.stop()
        self._debounce = self.set_timer(0.15, self.reload)

    @on(Input.Submitted, "#traffic-filter")
    def _on_filter_done(self) -> None:
        self.table.focus()

    def action_focus_filter(self) -> None:
        self.query_one("#traffic-filter", Input).focus()

    async def action_older(self) -> None:
        store = self.context.store
        table = self.table
        if store is None or not table.keys:
            return
        self.pause()
        older = await store.scan(views.traffic_before, table.keys[0], self.filter, PAGE)
        if not older:
            self.notify(_("No older traffic."))
            return
        rows = await store.scan(views.traffic_from, older[0].id, self.filter, WINDOW)
        self._total = await store.scan(views.traffic_total, self.filter)
        table.clear()
        table.append([(row.id, row) for row in rows])
        table.move_to(len(older) - 1)
        self._show_state()

    async def action_story(self) -> None:
        table, store = self.table, self.context.store
        if store is None or not table.keys:
            return
        row = await store.read(views.traffic_detail, int(table.keys[table.cursor]))
        self.post_message(ShowStory(row.payment_id if row is not None else None))

    @on(TailView.Selected)
    async def _on_select(self, event: TailView.Selected) -> None:
        store = self.context.store
        if store is None:
            return
        row = await store.read(views.traffic_detail, int(event.key))
        if row is None:
            return
        # the id is what `simulate replay ID` sends again
        at = fmt.at_text(row.at, self.context.zone, with_date=True)
        title = _("#{id} · {kind} · {at} · from {peer}").format(
            id=row.id, kind=fmt.kind_text(row.kind), at=at, peer=row.peer
        )
        response = pretty_json(row.response)
        if row.sig_form:
            response += "\n\n# " + _("signature: matched in the {form} form").format(form=row.sig_form)
        if row.key_used:  # key rotation: which of the project's keys signed it
            used = _("signed with the previous key") if row.key_used == "previous" else _("signed with the current key")
            if row.project_id is not None:
                used += " · " + _("project {project}").format(project=row.project_id)
            response += f"\n# {used}"
        if row.reason:
            response += "\n\n# " + _("why: {reason}").format(reason=reason_text(row.reason))
        self.app.push_screen(DetailScreen(title, pretty_json(row.request), response))


def pretty_json(text: str) -> str:
    """Indented JSON when it parses, else the text as received."""
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text
