"""Contracts, callbacks and mismatches: pages re-read from the store, cursor kept in place."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Input, Static
from textual.widgets.data_table import ColumnKey

from .. import edits
from ..audit import history, shown
from ..filters import parse_filter
from ..i18n import N_, _
from ..store import views
from ..timeline import callback_detail, latest_deposit_of
from . import format as fmt
from .screens import (
    AccountForm,
    ContractForm,
    DetailScreen,
    NewContractForm,
    contract_change,
)
from .traffic import pretty_json

if TYPE_CHECKING:
    from .app import Kassa24App


class Rows(DataTable[Any]):
    """A pane's table where Home and End move the cursor to the first and last row (a
    DataTable's own Home scrolls the view only, and ``k``/``p`` would act on a row out of sight)."""

    BINDINGS = [
        Binding("home", "scroll_top", "First row", show=False),
        Binding("end", "scroll_bottom", "Last row", show=False),
    ]


class ListPane(Vertical):
    """A table of one page from the store, rebuilt only when what it shows changed.

    Lists longer than a page are paged from the store (``]`` next, ``[`` previous) and say
    where you are ("1–500 of 10 020"); ``/`` narrows them (a payment id works everywhere).
    """

    TABLE_ID = ""
    NOUN = "rows"
    PAGE = 500
    COLUMNS: list[tuple[str, str, int]] = []  # (label, key, width)
    PAGING = [
        Binding("right_square_bracket", "page(1)", "Next page", show=False, tooltip="next page of the list"),
        Binding("left_square_bracket", "page(-1)", "Previous page", show=False, tooltip="previous page"),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._shown: list[tuple[Any, ...]] = []
        self.rows: dict[str, Any] = {}
        self.page_start = 0
        self._read_at: tuple[Any, ...] | None = None  # (tables' stamp, search, page) last read

    @property
    def search(self) -> str:
        return next((i.value for i in self.query(f"#{self.NOUN}-search").results(Input)), "")

    def search_box(self, placeholder: str) -> Input:
        return Input(placeholder=placeholder, id=f"{self.NOUN}-search")

    def where_line(self) -> Static:
        return Static("", id=f"{self.NOUN}-where", classes="hint", markup=False)

    def tables(self) -> tuple[str, ...]:
        """The tables this pane's rows are read from: it re-reads when one of them is written."""
        return self.TABLES

    TABLES: tuple[str, ...] = ()

    def view_state(self) -> tuple[Any, ...]:
        """What, besides the store, decides which rows the pane shows."""
        return (self.search, self.page_start)

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
            of = f"more than {views.COUNT_CAP:,}" if total > views.COUNT_CAP else f"{total:,}"
            where = f"{self.NOUN} {first}–{self.page_start + len(rows)} of {of}".replace(",", " ")
            more = " · ] next page · [ previous" if total > self.PAGE else ""
            for widget in self.query(f"#{self.NOUN}-where").results(Static):
                widget.update(where + more)
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
        for label, key, width in self.COLUMNS:
            table.add_column(self.column_label(label, key), key=key, width=width)
        return table

    def column_label(self, label: str, key: str) -> Text:
        """A column's heading in the operator's language (drawn again when it changes)."""
        return Text(_(label), justify="right" if key in self.RIGHT else "left")

    def relabel(self) -> None:
        table = self.query_one(f"#{self.TABLE_ID}", DataTable)
        for label, key, _width in self.COLUMNS:
            table.columns[ColumnKey(key)].label = self.column_label(label, key)
        table.refresh()

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
            for row in rows:
                table.add_row(*self.cells(row), key=self.key_of(row))
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
        Binding("e", "edit", "Edit", id="contracts.edit"),
        Binding("n", "new_contract", "New contract", id="contracts.new", show=False),
        Binding("a", "new_account", "New account", id="contracts.account", show=False),
        Binding(
            "slash",
            "focus_search",
            "Search",
            id="contracts.search",
            tooltip="search: start of a customer, contract, number or name; or a payment id",
        ),
        Binding(
            "h",
            "history",
            "History",
            id="contracts.history",
            tooltip="the contract's history, newest first: edits, payments credited, imports, corrections",
        ),
        Binding("s", "story", "Story", id="contracts.story", show=False, tooltip="its last payment's story"),
        *ListPane.PAGING,
    ]

    def compose(self) -> ComposeResult:
        yield self.search_box("search: any part of a customer, contract, number or name; or a payment id")
        yield self.where_line()
        yield self.make_table()

    async def count(self) -> int:
        return await self.k24.store.scan(views.contracts_count, self.search)  # type: ignore[union-attr]

    async def page(self) -> list[Any]:
        return await self.k24.store.scan(views.contracts_page, self.search, self.PAGE, self.page_start)  # type: ignore[union-attr]

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
            self.notify(f"Contract {contract.id}: {changed} field(s) saved." if changed else "Nothing changed.")
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
        rows = await store.scan(
            lambda c: history(c, contract=contract.id, project=getattr(contract, "project_id", None))
        )
        zone = self.k24.zone
        lines = []
        for row in reversed(rows):  # newest first: what just happened is what the operator looks for
            when = fmt.at_text(row.at, zone, with_date=True).plain
            change = f"{row.field}: {shown(row.field, row.old)} → {shown(row.field, row.new)}"
            why = " · ".join(part for part in (row.note, row.cause) if part)
            lines.append(f"{when}  {row.kind:<10} {row.actor}\n    {change}" + (f"\n    {why}" if why else ""))
        now = (
            f"status code {contract.status_code} {contract.status_text}\n"
            f"amount due {fmt.money(contract.payment).plain}\nminimum {fmt.money(contract.min_payment).plain}"
        )
        title = f"History of {contract.id} · {contract.number} · customer {contract.customer_id} · newest first"
        self.app.push_screen(DetailScreen(title, "\n".join(lines) or "(no changes recorded)", now, ("History", "Now")))

    def action_new_account(self) -> None:
        store = self.k24.store
        if store is None:
            return

        async def save(values: dict[str, str]) -> None:
            await edits.add_account(store, values["customer_id"], values["name"], values["additional_customer_id"])
            self.notify(f"Account {values['customer_id']} added.")

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
            self.notify(f"Contract {values['id'].strip()} added.")
            await self.refresh_rows()

        self.app.push_screen(NewContractForm(save, current.customer_id if current else ""))


class CallbacksPane(ListPane):
    TABLE_ID = "callbacks-table"
    NOUN = "callbacks"
    TABLES = ("callbacks",)
    BINDINGS = [
        Binding("s", "story", "Story", id="callbacks.story", tooltip="the payment's story, in order"),
        Binding("slash", "focus_search", "Filter", id="callbacks.filter", tooltip="filter (a payment id works too)"),
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
        yield self.search_box("filter: customer:7012 sig:bad, a payment id, a status or an outcome")
        yield Static(
            "Callbacks, latest delivery first. × counts deliveries of the same callback. "
            "Enter: the raw callback, our answer and the matched deposit.",
            classes="hint",
        )
        yield self.where_line()
        yield self.make_table()

    async def count(self) -> int:
        return await self.k24.store.scan(views.callbacks_count, parse_filter(self.search))  # type: ignore[union-attr]

    async def page(self) -> list[Any]:
        flt = parse_filter(self.search)
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
        ours = {"our answer": answers or _("no answer of ours is recorded"), "matched deposit": detail.deposit}
        raw = detail.raw
        title = f"callback · {row.payment_id or ''} · {row.status or 'signature failed'} · ×{row.deliveries}"
        self.app.push_screen(
            DetailScreen(
                title,
                pretty_json(raw or ""),
                json.dumps(ours, indent=2, ensure_ascii=False, default=str),
                ("Callback", "Our answer and the deposit"),
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
            fmt.plain(row.status),
            fmt.money(row.amount, row.currency or "KZT"),
            Text(row.outcome, style=outcome_style),
            Text("yes" if row.deposit_id else "no", style="" if row.deposit_id else "yellow"),
            fmt.signature_text(row.signature_ok),
            Text(str(row.deliveries), justify="right"),
            fmt.plain(row.operation_id),
        ]
