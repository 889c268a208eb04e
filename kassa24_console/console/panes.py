"""Contracts, callbacks and mismatches: pages re-read from the store, cursor kept in place."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Input, Static
from textual.widgets.data_table import ColumnKey

from .. import edits
from ..filters import TrafficFilter, parse_filter
from ..i18n import N_, _, ngettext
from ..reasons import part_text
from ..reconcile.words import word
from ..store import views
from ..timeline import callback_detail, latest_deposit_of
from . import format as fmt
from . import project_filter
from .said import Asking, Said
from .screens import (
    AccountForm,
    ContractForm,
    DetailScreen,
    NewContractForm,
    contract_change,
)
from .story import show_history
from .traffic import pretty_json

if TYPE_CHECKING:
    from .app import Kassa24App


class Rows(DataTable[Any]):
    """A pane's table where Home and End move the cursor to the first and last row (a
    DataTable's own Home scrolls the view only, and ``k``/``p`` would act on a row out of sight)."""

    BINDINGS = [
        Binding("home", "scroll_top", N_("First row"), show=False),
        Binding("end", "scroll_bottom", N_("Last row"), show=False),
    ]


class ListPane(Vertical):
    """A table of one page from the store, rebuilt only when what it shows changed.

    Lists longer than a page are paged from the store (``]`` next, ``[`` previous) and say
    where you are ("1–500 of 10 020"); ``/`` narrows them (a payment id works everywhere).
    """

    TABLE_ID = ""
    NOUN = "rows"  # the ids of its widgets
    NOUN_WORD = N_("rows")  # what "1–500 of 10 020" counts, in words
    PAGE = 500
    COLUMNS: list[tuple[str, str, int]] = []  # (label, key, width)
    BINDINGS = [project_filter.BINDING]
    BY_PROJECT = True  # its rows carry their project: it filters by project when there are several
    PAGING = [
        Binding("right_square_bracket", "page(1)", N_("Next page"), show=False, tooltip=N_("next page of the list")),
        Binding("left_square_bracket", "page(-1)", N_("Previous page"), show=False, tooltip=N_("previous page")),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._shown: list[tuple[Any, ...]] = []
        self.rows: dict[str, Any] = {}
        self.page_start = 0
        self._read_at: tuple[Any, ...] | None = None  # (tables' stamp, search, page) last read
        self.project: int | None = None  # the project filter: None, every project

    @property
    def by_project(self) -> bool:
        """Several projects are configured and its rows carry theirs: a filter and a column."""
        return self.BY_PROJECT and self.k24.settings.several

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cycle_project":
            return self.by_project
        return True

    async def action_cycle_project(self) -> None:
        self.project = project_filter.following(self.k24.settings, self.project)
        self.page_start = 0
        await self.refresh_rows()

    def columns(self) -> list[tuple[str, str, int]]:
        return [project_filter.COLUMN, *self.COLUMNS] if self.by_project else self.COLUMNS

    @property
    def search(self) -> str:
        return next((i.value for i in self.query(f"#{self.NOUN}-search").results(Input)), "")

    def search_box(self, placeholder: str) -> Input:
        return Asking(placeholder, id=f"{self.NOUN}-search")

    def where_line(self) -> Static:
        return Static("", id=f"{self.NOUN}-where", classes="hint", markup=False)

    def tables(self) -> tuple[str, ...]:
        """The tables this pane's rows are read from: it re-reads when one of them is written."""
        return self.TABLES

    TABLES: tuple[str, ...] = ()

    def view_state(self) -> tuple[Any, ...]:
        """What, besides the store, decides which rows the pane shows."""
        return (self.search, self.page_start, self.project)

    async def count(self) -> int:
        raise NotImplementedError

    async def page(self) -> list[Any]:
        raise NotImplementedError

    async def fetch(self) -> list[Any]:
        """The page at ``offset`` (kept within the rows there are), and where it is."""
        total = await self.count()
        self.page_start = max(0, min(self.page_start, (max(total, 1) - 1) // self.PAGE * self.PAGE))
        rows = await self.page()
        if self.is_attached:
            first = self.page_start + 1 if rows else 0
            cap = f"{views.COUNT_CAP:,}".replace(",", " ")
            of = _("more than {n}").format(n=cap) if total > views.COUNT_CAP else f"{total:,}".replace(",", " ")
            last = self.page_start + len(rows)
            where = _("{noun} {first}–{last} of {of}").format(noun=_(self.NOUN_WORD), first=first, last=last, of=of)
            more = _(" · ] next page · [ previous") if total > self.PAGE else ""
            mine = project_filter.note(self.k24.settings, self.project) if self.by_project else ""
            for widget in self.query(f"#{self.NOUN}-where").results(Static):
                widget.update(where + more + mine)
        return rows

    async def action_page(self, step: int) -> None:
        self.page_start = max(0, self.page_start + step * self.PAGE)
        await self.refresh_rows()

    @on(Input.Changed)
    async def _on_search(self, event: Input.Changed) -> None:
        if event.input.id == f"{self.NOUN}-search":
            self.page_start = 0
            await self.refresh_rows()

    @on(Input.Submitted)
    def _on_search_done(self, event: Input.Submitted) -> None:
        if event.input.id == f"{self.NOUN}-search":
            self.table.focus()

    def action_focus_search(self) -> None:
        for box in self.query(f"#{self.NOUN}-search").results(Input):
            box.focus()

    @property
    def k24(self) -> Kassa24App:
        return self.app  # type: ignore[return-value]

    def make_table(self) -> DataTable[Any]:
        table: DataTable[Any] = Rows(id=self.TABLE_ID, cursor_type="row", zebra_stripes=True)
        for label, key, width in self.columns():
            table.add_column(self.column_label(label, key), key=key, width=width)
        return table

    def column_label(self, label: str, key: str) -> Text:
        """A column's heading in the operator's language (drawn again when it changes)."""
        return Text(_(label), justify="right" if key in self.RIGHT else "left")

    def relabel(self) -> None:
        """Headings again in the language now in use; the rows are read and drawn again."""
        table = self.query_one(f"#{self.TABLE_ID}", DataTable)
        for label, key, _width in self.columns():
            table.columns[ColumnKey(key)].label = self.column_label(label, key)
        table.refresh()
        self._read_at, self._shown = None, []

    RIGHT: frozenset[str] = frozenset()

    @property
    def table(self) -> DataTable[Any]:
        return self.query_one(f"#{self.TABLE_ID}", DataTable)

    def key_of(self, row: Any) -> str:
        return str(row.id)

    def cells(self, row: Any) -> list[Text]:
        raise NotImplementedError

    async def refresh_rows(self) -> None:
        """Re-read the page unless nothing was committed since it was read (an idle console
        reads nothing); touch the table only if something changed."""
        store = self.k24.store
        if store is None:
            return
        stamp = await store.stamp(self.tables())
        read_at = (stamp, *self.view_state())
        if stamp is not None and read_at == self._read_at:
            return  # none of the tables this pane shows was written since it was read
        rows = await self.fetch()
        self._read_at = read_at
        if not self.is_attached:  # the app closed while the store answered
            return
        shown = [tuple(row) for row in rows]
        if shown == self._shown:
            return
        self._shown = shown
        table = self.table
        selected = self.selected_key()
        self.rows = {self.key_of(row): row for row in rows}
        with self.app.batch_update():
            table.clear()
            mark = self.by_project
            for row in rows:
                cells = self.cells(row)
                table.add_row(*([project_filter.cell(row), *cells] if mark else cells), key=self.key_of(row))
            if selected in self.rows:
                table.move_cursor(row=table.get_row_index(selected), animate=False)

    def selected_key(self) -> str | None:
        table = self.table
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def selected(self) -> Any:
        key = self.selected_key()
        return self.rows.get(key) if key is not None else None


class ContractsPane(ListPane):
    TABLE_ID = "contracts-table"

    def key_of(self, row: Any) -> str:
        """The contract's id; another project's contract of the same id: with its project."""
        first = self.k24.settings.project_id
        project = getattr(row, "project_id", first)
        return str(row.id) if project == first else f"{project}:{row.id}"

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
        return await self.k24.store.scan(views.contracts_count, self.search, self.project)  # type: ignore[union-attr]

    async def page(self) -> list[Any]:
        store = self.k24.store
        assert store is not None
        return await store.scan(views.contracts_page, self.search, self.PAGE, self.page_start, self.project)

    def cells(self, row: Any) -> list[Text]:
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
    async def _on_select(self) -> None:
        await self.action_edit()

    async def action_edit(self) -> None:
        contract = self.selected()
        store = self.k24.store
        if contract is None or store is None:
            return
        try:
            # what the form shows is what it saves against
            seen = await edits.load_contract(store, contract.id, getattr(contract, "project_id", None))
        except edits.EditRejected as error:
            self.notify(str(error), severity="error")
            return

        async def save(seen: edits.Seen, change: edits.ContractChange) -> None:
            changed = await edits.update_contract(store, seen, change, zone=self.k24.zone)
            saved = ngettext("Contract {id}: {n} field saved.", "Contract {id}: {n} fields saved.", changed)
            self.notify(saved.format(id=contract.id, n=changed) if changed else _("Nothing changed."))
            await self.refresh_rows()

        self.app.push_screen(ContractForm(contract, seen, save))

    async def action_story(self) -> None:
        contract = self.selected()
        if contract is not None and self.k24.store is not None:
            project = getattr(contract, "project_id", None)
            await self.k24.show_story(await self.k24.store.scan(latest_deposit_of, contract.id, project))

    async def action_history(self) -> None:
        """The contract's history: operator edits, payments credited, imports, corrections."""
        contract = self.selected()
        store = self.k24.store
        if contract is None or store is None:
            return
        await show_history(self.app, store, contract)

    def action_new_account(self) -> None:
        store = self.k24.store
        if store is None:
            return

        async def save(values: dict[str, str]) -> None:
            await edits.add_account(store, values["customer_id"], values["name"], values["additional_customer_id"])
            self.notify(_("Account {id} added.").format(id=values["customer_id"]))

        self.app.push_screen(AccountForm(save))

    def action_new_contract(self) -> None:
        store = self.k24.store
        if store is None:
            return
        current = self.selected()

        async def save(values: dict[str, str]) -> None:
            change = contract_change(values)
            await edits.add_contract(
                store,
                {
                    "id": values["id"].strip(),
                    "customer_id": values["customer_id"].strip(),
                    "number": values["number"].strip(),
                    "payment": change.payment,
                    "min_payment": change.min_payment,
                    "status_code": change.status_code,
                    "status_text": change.status_text,
                    "info": None,
                },
            )
            self.notify(_("Contract {id} added.").format(id=values["id"].strip()))
            await self.refresh_rows()

        self.app.push_screen(NewContractForm(save, current.customer_id if current else ""))


class CallbacksPane(ListPane):
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

    async def action_story(self) -> None:
        row = self.selected()
        await self.k24.show_story(row.payment_id if row is not None else None)

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
        return await self.k24.store.scan(views.callbacks_count, self._filter())  # type: ignore[union-attr]

    def _filter(self) -> TrafficFilter:
        return replace(parse_filter(self.search), project=self.project)

    async def page(self) -> list[Any]:
        flt = self._filter()
        return await self.k24.store.scan(views.callbacks_page, flt, self.PAGE, self.page_start)  # type: ignore[union-attr]

    @on(DataTable.RowSelected, "#callbacks-table")
    async def _on_select(self) -> None:
        row = self.selected()
        store = self.k24.store
        if row is None or store is None:
            return
        detail = await store.scan(lambda c: callback_detail(c, row.id))
        if detail is None:
            return
        # What we actually sent, as the traffic record keeps it: never rebuilt from the outcome.
        answers = [
            {"at": fmt.at_text(a.at, self.k24.zone, with_date=True).plain, "http": a.http_status, "body": a.body}
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

    def cells(self, row: Any) -> list[Text]:
        outcome_style = {
            "applied": "green",
            "duplicate": "dim",
            "recorded": "",
            "conflict": "bold red",
            "unknown_payment": "bold red",
            "rejected": "bold red",
        }.get(row.outcome, "")
        return [
            fmt.at_text(row.last_received_at, self.k24.zone),
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
