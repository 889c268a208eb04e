"""The Contracts and Callbacks panes: pages re-read from the store, cursor kept in place.
What changes a contract is asked of the app with a message (:mod:`.messages`)."""

from __future__ import annotations

import json
from dataclasses import replace

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable

from ..filters import TrafficFilter, parse_filter
from ..i18n import N_, _
from ..reasons import part_text
from ..reconcile.words import word
from ..store import views
from ..store.rows import CallbackLine, ContractLine
from ..timeline import callback_detail, latest_deposit_of
from . import format as fmt
from .lists import ListPane
from .messages import EditContract, NewAccount, NewContract, ShowHistory, ShowStory
from .said import Said
from .screens import DetailScreen
from .traffic import pretty_json


class ContractsPane(ListPane[ContractLine]):
    TABLE_ID = "contracts-table"

    def key_of(self, row: ContractLine) -> str:
        """The contract's id; another project's contract of the same id: with its project."""
        first = self.context.settings.project_id
        return str(row.id) if row.project_id == first else f"{row.project_id}:{row.id}"

    NOUN = "contracts"
    NOUN_WORD = N_("contracts")
    COLUMNS = [
        (N_("Customer"), "customer", 10),
        (N_("Name"), "name", 16),
        (N_("Contract"), "contract", 8),
        (N_("Number"), "number", 26),
        (N_("Due"), "due", 12),
        (N_("Credit"), "credit", 12),
        (N_("Minimum"), "min", 12),
        (N_("Code"), "status", 4),
        (N_("Status text"), "text", 12),
    ]
    RIGHT = frozenset({"due", "credit", "min", "status"})
    TABLES = ("contracts", "accounts")

    def tables(self) -> tuple[str, ...]:
        return (*self.TABLES, "deposits") if self.search.strip() else self.TABLES  # a payment id finds its contract

    BINDINGS = [
        Binding("e", "edit", N_("Edit"), id="contracts.edit"),
        Binding("n", "new_contract", N_("New contract"), id="contracts.new", show=False),
        Binding("a", "new_account", N_("New account"), id="contracts.account", show=False),
        Binding(
            "slash",
            "focus_search",
            N_("Search"),
            id="contracts.search",
            tooltip=N_("search: any part of a customer, contract, number or name; or a payment id"),
        ),
        Binding(
            "h",
            "history",
            N_("History"),
            id="contracts.history",
            tooltip=N_("the contract's history, newest first: edits, payments credited, imports, corrections"),
        ),
        Binding("s", "story", N_("Story"), id="contracts.story", show=False, tooltip=N_("its last payment's story")),
        *ListPane.PAGING,
    ]

    def compose(self) -> ComposeResult:
        yield self.search_box(N_("search: any part of a customer, contract, number or name; or a payment id"))
        yield self.where_line()
        yield self.make_table()

    async def count(self) -> int:
        return await self.store.scan(views.contracts_count, self.search, self.project)

    async def page(self) -> list[ContractLine]:
        return await self.store.scan(views.contracts_page, self.search, self.PAGE, self.page_start, self.project)

    def cells(self, row: ContractLine) -> list[Text]:
        status = Text(str(row.status_code), justify="right", style="green" if row.status_code == 0 else "bold red")
        return [
            fmt.plain(row.customer_id),
            fmt.plain(row.name),
            fmt.plain(row.id),
            fmt.plain(row.number),
            fmt.money(row.payment),
            fmt.money(row.credit) if row.credit else fmt.plain(""),  # an overpayment kept: only then shown
            fmt.money(row.min_payment),
            status,
            fmt.plain(row.status_text),
        ]

    @on(DataTable.RowSelected, "#contracts-table")
    def _on_select(self) -> None:
        self.action_edit()

    def action_edit(self) -> None:
        contract = self.selected()
        if contract is not None:
            self.post_message(EditContract(contract))

    async def action_story(self) -> None:
        contract = self.selected()
        store = self.context.store
        if contract is not None and store is not None:
            project = getattr(contract, "project_id", None)
            self.post_message(ShowStory(await store.scan(latest_deposit_of, contract.id, project)))

    def action_history(self) -> None:
        """The contract's history: operator edits, payments credited, imports, corrections."""
        contract = self.selected()
        if contract is not None:
            self.post_message(ShowHistory(contract))

    def action_new_account(self) -> None:
        self.post_message(NewAccount())

    def action_new_contract(self) -> None:
        current = self.selected()
        self.post_message(NewContract(current.customer_id if current else ""))


class CallbacksPane(ListPane[CallbackLine]):
    TABLE_ID = "callbacks-table"
    NOUN = "callbacks"
    NOUN_WORD = N_("callbacks")
    TABLES = ("callbacks",)
    BINDINGS = [
        Binding("s", "story", N_("Story"), id="callbacks.story", tooltip=N_("the payment's story, in order")),
        Binding(
            "slash", "focus_search", N_("Filter"), id="callbacks.filter", tooltip=N_("filter (a payment id works too)")
        ),
        *ListPane.PAGING,
    ]

    def action_story(self) -> None:
        row = self.selected()
        self.post_message(ShowStory(row.payment_id if row is not None else None))

    COLUMNS = [
        (N_("Last"), "last", 11),
        (N_("Payment id"), "payment", 30),
        (N_("Customer"), "customer", 12),
        (N_("Status"), "status", 9),
        (N_("Amount"), "amount", 13),
        (N_("Outcome"), "outcome", 15),
        (N_("Deposit"), "deposit", 7),
        (N_("Sig"), "sig", 3),
        (N_("×"), "deliveries", 3),
        (N_("Operation"), "operation", 9),
    ]
    RIGHT = frozenset({"amount", "deliveries"})

    def compose(self) -> ComposeResult:
        yield self.search_box(N_("filter: customer:7012 sig:bad, a payment id, a status or an outcome"))
        yield Said(
            N_(
                "Callbacks, latest delivery first. × counts deliveries of the same callback. "
                "Enter: the raw callback, our answer and the matched deposit."
            ),
            classes="hint",
        )
        yield self.where_line()
        yield self.make_table()

    async def count(self) -> int:
        return await self.store.scan(views.callbacks_count, self._filter())

    def _filter(self) -> TrafficFilter:
        return replace(parse_filter(self.search), project=self.project)

    async def page(self) -> list[CallbackLine]:
        flt = self._filter()
        return await self.store.scan(views.callbacks_page, flt, self.PAGE, self.page_start)

    @on(DataTable.RowSelected, "#callbacks-table")
    async def _on_select(self) -> None:
        row = self.selected()
        store = self.context.store
        if row is None or store is None:
            return
        detail = await store.scan(lambda c: callback_detail(c, row.id))
        if detail is None:
            return
        # What we actually sent, as the traffic record keeps it: never rebuilt from the outcome.
        answers = [
            {"at": fmt.at_text(a.at, self.context.zone, with_date=True).plain, "http": a.http_status, "body": a.body}
            for a in detail.answers
        ]
        ours = {_("our answer"): answers or _("no answer of ours is recorded"), _("matched deposit"): detail.deposit}
        raw = detail.raw
        status = word(row.status) if row.status else _("signature failed")
        title = _("callback · {payment_id} · {status} · ×{n}").format(
            payment_id=row.payment_id or "", status=status, n=row.deliveries
        )
        self.app.push_screen(
            DetailScreen(
                title,
                pretty_json(raw or ""),
                json.dumps(ours, indent=2, ensure_ascii=False, default=str),
                (_("Callback"), _("Our answer and the deposit")),
            )
        )

    def cells(self, row: CallbackLine) -> list[Text]:
        outcome_style = {
            "applied": "green",
            "duplicate": "dim",
            "recorded": "",
            "conflict": "bold red",
            "unknown_payment": "bold red",
            "rejected": "bold red",
        }.get(row.outcome, "")
        return [
            fmt.at_text(row.last_received_at, self.context.zone),
            fmt.plain(row.payment_id),
            fmt.plain(row.customer_id),
            fmt.plain(word(row.status) if row.status else ""),
            fmt.money(row.amount, row.currency or "KZT"),
            Text(part_text(row.outcome), style=outcome_style),
            Text(_("yes") if row.deposit_id else _("no"), style="" if row.deposit_id else "yellow"),
            fmt.signature_text(row.signature_ok),
            Text(str(row.deliveries), justify="right"),
            fmt.plain(row.operation_id),
        ]
