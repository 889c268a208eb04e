"""The Mismatches pane: what needs an operator's look, the periods signed (and reopened),
resolutions with notes, corrections with commands behind them, reconciliation of today."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from ..i18n import N_, _, ngettext, pgettext
from ..reconcile.words import action_text, kind_name, word
from ..store import views
from ..store.console_reads import SignedPeriod, history_of_mismatch, periods_to_show
from ..store.rows import MismatchRow
from ..words import actor_word, audit_kind, note_text
from . import format as fmt
from .lists import ListPane
from .messages import CorrectDeposit, ResolveMismatch, ShowStory
from .reconciling import reconcile_elsewhere
from .said import Said
from .screens import DetailScreen

# A finding's state in the list's narrow column (the detail says it in full: не урегулировано).


def state_word(state: str) -> str:
    if state == "open":
        return pgettext("finding state", "open")
    if state == "resolved":
        return pgettext("finding state", "resolved")
    if state == "auto-closed":
        return pgettext("finding state", "auto-closed")
    return state


# Why a signed period was reopened, as the store keeps it (English) → the operator's words.
REOPENED = (
    (re.compile(r"(\w+) found for (.*)"), N_("{kind} found for {payment_id}")),
    (re.compile(r"(\w+) reopened for (.*)"), N_("{kind} reopened for {payment_id}")),
)
REOPENED_BY = re.compile(r"#(\d+) (\w+) ?(\S*) reopened by (\S+?)(?:: (.*))?")


def reopened_text(reason: str) -> str:
    for pattern, said in REOPENED:
        if match := pattern.fullmatch(reason):
            return _(said).format(kind=kind_name(match[1]), payment_id=match[2])
    if match := REOPENED_BY.fullmatch(reason):
        said = _("#{id} {kind} {payment_id} reopened by {who}: {note}").format(
            id=match[1], kind=kind_name(match[2]), payment_id=match[3], who=match[4], note=match[5] or ""
        )
        return said.replace("  ", " ").rstrip(": ")  # no payment id, no note
    return reason


class MismatchesPane(ListPane[MismatchRow]):
    TABLE_ID = "mismatches-table"
    NOUN = "mismatches"
    NOUN_WORD = N_("mismatches")
    TABLES = ("mismatches", "periods")
    COLUMNS = [
        (N_("Found"), "found", 16),
        (N_("Kind"), "kind", 18),
        (N_("Payment id"), "payment", 30),
        (N_("State"), "state", 13),
        (N_("Evidence"), "evidence", 22),
        (N_("Note"), "note", 10),
    ]
    BINDINGS = [
        Binding("x", "resolve", N_("Resolve"), id="mismatches.resolve", tooltip=N_("resolve with a note")),
        Binding("o", "reopen", N_("Reopen"), id="mismatches.reopen", show=False),
        Binding("v", "toggle_resolved", N_("Show resolved"), id="mismatches.toggle", show=False),
        Binding("r", "reconcile", N_("Reconcile"), id="mismatches.reconcile", tooltip=N_("reconcile today")),
        Binding(
            "k",
            "close_deposit",
            N_("Close deposit"),
            id="mismatches.close_deposit",
            show=False,
            tooltip=N_("close the unpaid deposit (with a note)"),
        ),
        Binding(
            "p",
            "credit_deposit",
            N_("Credit from platform"),
            id="mismatches.credit_deposit",
            show=False,
            tooltip=N_("credit the deposit on the platform's operation (with a note)"),
        ),
        Binding(
            "s", "story", N_("Story"), id="mismatches.story", show=False, tooltip=N_("the payment's story, in order")
        ),
        Binding(
            "slash",
            "focus_search",
            N_("Filter"),
            id="mismatches.filter",
            show=False,
            tooltip=N_("filter: a payment id, a kind"),
        ),
        *ListPane.PAGING,
    ]

    def __init__(self, context: Any, **kwargs: Any) -> None:
        super().__init__(context, **kwargs)
        self.show_resolved = False

    def compose(self) -> ComposeResult:
        yield Said(
            N_(
                "Open mismatches. Enter evidence · x resolve · o reopen · v show resolved · r reconcile today · "
                "k close deposit · p credit from the platform's record"
            ),
            classes="hint",
        )
        yield Static("", id="periods", markup=False)
        yield self.search_box(N_("filter: a payment id or a kind"))
        yield self.where_line()
        yield self.make_table()

    async def fetch(self) -> list[MismatchRow]:
        periods = await self.store.scan(periods_to_show, 3, self.project)
        rows = await super().fetch()
        if self.is_attached:
            self._show_periods(periods)
        return rows

    def view_state(self) -> tuple[Any, ...]:
        return (*super().view_state(), self.show_resolved)

    async def count(self) -> int:
        return await self.store.scan(views.mismatches_count, self.show_resolved, self.search, self.project)

    async def page(self) -> list[MismatchRow]:
        return await self.store.scan(
            views.mismatches_page, self.show_resolved, self.PAGE, self.search, self.page_start, self.project
        )

    def _show_periods(self, rows: list[SignedPeriod]) -> None:
        """Signed periods, and any reopened after sign-off with the reason (in red)."""
        zone = self.context.zone
        text = Text()
        for p in rows:
            start = datetime.fromtimestamp(p.start_at / 1e6, zone).date()
            last = datetime.fromtimestamp((p.end_at - 1) / 1e6, zone).date()
            signed_at = fmt.at_text(p.signed_at, zone, minutes=True).plain
            label = _("{start} … {last} signed by {who} at {at}").format(
                start=start, last=last, who=p.signed_by, at=signed_at
            )
            if p.reopened_at:
                reopened = _("{period} — reopened after sign-off: {reason}").format(
                    period=label, reason=reopened_text(p.reopened_reason or "")
                )
                text.append(f"⚠ {reopened}\n", style="bold red")
            else:
                text.append(f"✓ {label}\n", style="green")
        for widget in self.query("#periods").results(Static):
            widget.update(text)

    def cells(self, row: MismatchRow) -> list[Text]:
        evidence = row.evidence if isinstance(row.evidence, dict) else {}
        return [
            fmt.at_text(row.found_at, self.context.zone, minutes=True),
            Text(kind_name(row.kind), style="bold"),
            fmt.plain(row.payment_id),
            Text(state_word(row.state), style="yellow" if row.state == "open" else "green"),
            fmt.plain(fmt.evidence_text(evidence)),
            fmt.plain(note_text(row.note)),
        ]

    @on(DataTable.RowSelected, "#mismatches-table")
    async def _on_select(self) -> None:
        mismatch = self.selected()
        store = self.context.store
        if mismatch is None or store is None:
            return
        evidence = fmt.evidence_text(mismatch.evidence).replace(" · ", "\n")
        what_to_do = _("Suggested action:\n{action}\n\nState: {state}").format(
            action=action_text(mismatch), state=word(mismatch.state)
        )
        if mismatch.occurrences > 1:
            n = mismatch.occurrences
            what_to_do += ngettext(" · found {n} time", " · found {n} times", n).format(n=n)
        entries = await store.scan(lambda c: history_of_mismatch(c, mismatch.id))
        if entries:  # every resolve and reopen, with who, when and the note: none is ever erased
            what_to_do += "\n\n" + _("History:")
            for e in entries:
                when = fmt.at_text(e.at, self.context.zone, with_date=True).plain
                what_to_do += "\n" + _("{when} {kind} by {who}: {note}").format(
                    when=when, kind=audit_kind(e.kind), who=actor_word(e.actor), note=note_text(e.note)
                )
        elif mismatch.note:
            what_to_do += "\n" + _("Note: {note}").format(note=note_text(mismatch.note))
        title = f"{kind_name(mismatch.kind)} · {mismatch.payment_id or ''}"
        self.app.push_screen(DetailScreen(title, evidence, what_to_do, (_("Evidence"), _("What to do"))))

    async def action_reconcile(self) -> None:
        """Run the reconciliation rules over today in a process of its own (the listener in
        this loop never waits for them): every project, or the one the filter shows."""
        if self.context.store is None:
            return
        day = datetime.now(self.context.zone).date().isoformat()
        try:
            runs = await reconcile_elsewhere(self.context.settings, day, self.project)
        except RuntimeError as error:
            self.notify(str(error), severity="error")
            return
        for run in runs:
            count = sum(f["count"] for f in run["found"].values())
            said = _("Reconciled {period}: {found} found, {open} open.").format(
                period=run["period"], found=count, open=len(run["open"])
            )
            if "project" in run:  # several projects: each says which
                named = self.context.settings.project(run["project"])
                said = f"{named.label if named else run['project']}: {said}"
            self.notify(said)
        await self.refresh_rows()

    def action_close_deposit(self) -> None:
        mismatch = self.selected()
        if mismatch is not None and mismatch.payment_id:
            self.post_message(CorrectDeposit(mismatch, "close"))

    def action_credit_deposit(self) -> None:
        mismatch = self.selected()
        if mismatch is not None and mismatch.payment_id:
            self.post_message(CorrectDeposit(mismatch, "credit"))

    def action_story(self) -> None:
        row = self.selected()
        self.post_message(ShowStory(row.payment_id if row is not None else None))

    async def action_toggle_resolved(self) -> None:
        self.show_resolved = not self.show_resolved
        await self.refresh_rows()

    def action_resolve(self, reopen: bool = False) -> None:
        mismatch = self.selected()
        if mismatch is not None:
            self.post_message(ResolveMismatch(mismatch, reopen))

    def action_reopen(self) -> None:
        self.action_resolve(reopen=True)
