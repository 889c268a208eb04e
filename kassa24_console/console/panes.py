"""Contracts, callbacks and mismatches: pages re-read from the store, cursor kept in place."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Input, Static

from .. import edits
from ..money import format_money
from ..reconcile import corrections
from ..store import views
from . import format as fmt
from .reconciling import periods_to_show, reconcile_elsewhere
from .screens import (
    AccountForm,
    ContractForm,
    CorrectionForm,
    DetailScreen,
    NewContractForm,
    ResolveForm,
    contract_change,
)

if TYPE_CHECKING:
    from .app import Kassa24App


class ListPane(Vertical):
    """A table of one page from the store, rebuilt only when what it shows changed."""

    TABLE_ID = ""
    COLUMNS: list[tuple[str, str, int]] = []  # (label, key, width)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._shown: list[tuple[Any, ...]] = []
        self.rows: dict[str, Any] = {}

    @property
    def k24(self) -> Kassa24App:
        return self.app  # type: ignore[return-value]

    def make_table(self) -> DataTable[Any]:
        table: DataTable[Any] = DataTable(id=self.TABLE_ID, cursor_type="row", zebra_stripes=True)
        for label, key, width in self.COLUMNS:
            table.add_column(Text(label, justify="right") if key in self.RIGHT else label, key=key, width=width)
        return table

    RIGHT: frozenset[str] = frozenset()

    @property
    def table(self) -> DataTable[Any]:
        return self.query_one(f"#{self.TABLE_ID}", DataTable)

    async def fetch(self) -> list[Any]:
        raise NotImplementedError

    def key_of(self, row: Any) -> str:
        return str(row.id)

    def cells(self, row: Any) -> list[Text]:
        raise NotImplementedError

    async def refresh_rows(self) -> None:
        """Re-read the page; touch the table only if something changed."""
        if self.k24.store is None:
            return
        rows = await self.fetch()
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
    COLUMNS = [
        ("Customer", "customer", 10),
        ("Name", "name", 16),
        ("Contract", "contract", 8),
        ("Number", "number", 26),
        ("Due", "due", 12),
        ("Minimum", "min", 12),
        ("Code", "status", 4),
        ("Status text", "text", 12),
    ]
    RIGHT = frozenset({"due", "min", "status"})
    BINDINGS = [
        Binding("e", "edit", "Edit", id="contracts.edit"),
        Binding("n", "new_contract", "New contract", id="contracts.new"),
        Binding("a", "new_account", "New account", id="contracts.account"),
        Binding("slash", "focus_search", "Search", id="contracts.search"),
    ]

    def compose(self) -> ComposeResult:
        yield Input(placeholder="search: customer, contract, number or name", id="contracts-search")
        yield self.make_table()

    async def fetch(self) -> list[Any]:
        search = self.query_one("#contracts-search", Input).value
        return await self.k24.store.scan(views.contracts_page, search)  # type: ignore[union-attr]

    def cells(self, row: Any) -> list[Text]:
        status = Text(str(row.status_code), justify="right", style="green" if row.status_code == 0 else "bold red")
        return [
            fmt.plain(row.customer_id),
            fmt.plain(row.name),
            fmt.plain(row.id),
            fmt.plain(row.number),
            fmt.money(row.payment),
            fmt.money(row.min_payment),
            status,
            fmt.plain(row.status_text),
        ]

    @on(Input.Changed, "#contracts-search")
    async def _on_search(self) -> None:
        await self.refresh_rows()

    @on(Input.Submitted, "#contracts-search")
    def _on_search_done(self) -> None:
        self.table.focus()

    def action_focus_search(self) -> None:
        self.query_one("#contracts-search", Input).focus()

    @on(DataTable.RowSelected, "#contracts-table")
    async def _on_select(self) -> None:
        await self.action_edit()

    async def action_edit(self) -> None:
        contract = self.selected()
        store = self.k24.store
        if contract is None or store is None:
            return
        try:
            seen = await edits.load_contract(store, contract.id)  # what the form shows is what it saves against
        except edits.EditRejected as error:
            self.notify(str(error), severity="error")
            return

        async def save(seen: edits.Seen, change: edits.ContractChange) -> None:
            changed = await edits.update_contract(store, seen, change)
            self.notify(f"Contract {contract.id}: {changed} field(s) saved." if changed else "Nothing changed.")
            await self.refresh_rows()

        self.app.push_screen(ContractForm(contract, seen, save))

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
    COLUMNS = [
        ("Last", "last", 8),
        ("Payment id", "payment", 30),
        ("Status", "status", 9),
        ("Amount", "amount", 13),
        ("Outcome", "outcome", 15),
        ("Deposit", "deposit", 7),
        ("Sig", "sig", 3),
        ("×", "deliveries", 3),
        ("Operation", "operation", 9),
    ]
    RIGHT = frozenset({"amount", "deliveries"})

    def compose(self) -> ComposeResult:
        yield Static("Callbacks, latest delivery first. × counts deliveries of the same callback.", classes="hint")
        yield self.make_table()

    async def fetch(self) -> list[Any]:
        return await self.k24.store.scan(views.callbacks_page)  # type: ignore[union-attr]

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
            fmt.plain(row.status),
            fmt.money(row.amount, row.currency or "KZT"),
            Text(row.outcome, style=outcome_style),
            Text("yes" if row.deposit_id else "no", style="" if row.deposit_id else "yellow"),
            fmt.signature_text(row.signature_ok),
            Text(str(row.deliveries), justify="right"),
            fmt.plain(row.operation_id),
        ]


class MismatchesPane(ListPane):
    TABLE_ID = "mismatches-table"
    COLUMNS = [
        ("Found", "found", 16),
        ("Kind", "kind", 18),
        ("Payment id", "payment", 30),
        ("State", "state", 8),
        ("Evidence", "evidence", 22),
        ("Note", "note", 10),
    ]
    BINDINGS = [
        Binding("x", "resolve", "Resolve", id="mismatches.resolve"),
        Binding("o", "reopen", "Reopen", id="mismatches.reopen"),
        Binding("v", "toggle_resolved", "Show resolved", id="mismatches.toggle"),
        Binding("r", "reconcile", "Reconcile today", id="mismatches.reconcile"),
        Binding("k", "close_deposit", "Close deposit", id="mismatches.close_deposit"),
        Binding("p", "credit_deposit", "Credit from platform", id="mismatches.credit_deposit"),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.show_resolved = False

    def compose(self) -> ComposeResult:
        yield Static(
            "Open mismatches. Enter evidence · x resolve · o reopen · v show resolved · r reconcile today · "
            "k close deposit · p credit from the platform's record",
            classes="hint",
        )
        yield Static("", id="periods", markup=False)
        yield self.make_table()

    async def fetch(self) -> list[Any]:
        store = self.k24.store
        assert store is not None
        periods = await store.scan(periods_to_show)
        rows = await store.scan(views.mismatches_page, self.show_resolved)
        if self.is_attached:
            self._show_periods(periods)
        return rows

    def _show_periods(self, rows: list[Any]) -> None:
        """Signed periods, and any reopened after sign-off with the reason (in red)."""
        zone = self.k24.zone
        text = Text()
        for p in rows:
            start = datetime.fromtimestamp(p.start_at / 1e6, zone).date()
            last = datetime.fromtimestamp((p.end_at - 1) / 1e6, zone).date()
            signed_at = fmt.at_text(p.signed_at, zone, minutes=True).plain
            label = f"{start} … {last} signed by {p.signed_by} at {signed_at}"
            if p.reopened_at:
                text.append(f"⚠ {label} — reopened after sign-off: {p.reopened_reason}\n", style="bold red")
            else:
                text.append(f"✓ {label}\n", style="green")
        for widget in self.query("#periods").results(Static):
            widget.update(text)

    def cells(self, row: Any) -> list[Text]:
        evidence = row.evidence if isinstance(row.evidence, dict) else {}
        return [
            fmt.at_text(row.found_at, self.k24.zone, minutes=True),
            Text(row.kind, style="bold"),
            fmt.plain(row.payment_id),
            Text(row.state, style="yellow" if row.state == "open" else "green"),
            fmt.plain(json.dumps(evidence, ensure_ascii=False)),
            fmt.plain(row.note),
        ]

    @on(DataTable.RowSelected, "#mismatches-table")
    def _on_select(self) -> None:
        mismatch = self.selected()
        if mismatch is None:
            return
        evidence = json.dumps(mismatch.evidence, indent=2, ensure_ascii=False)
        what_to_do = f"Suggested action:\n{mismatch.action}\n\nState: {mismatch.state}\nNote: {mismatch.note}"
        if mismatch.resolved_by:
            what_to_do += f"\nResolved by {mismatch.resolved_by}"
        title = f"{mismatch.kind} · {mismatch.payment_id or ''}"
        self.app.push_screen(DetailScreen(title, evidence, what_to_do, ("Evidence", "What to do")))

    async def action_reconcile(self) -> None:
        """Run the reconciliation rules over today in a process of its own: the listener in
        this loop never waits for them."""
        if self.k24.store is None:
            return
        day = datetime.now(self.k24.zone).date().isoformat()
        try:
            found = await reconcile_elsewhere(self.k24.settings, day)
        except RuntimeError as error:
            self.notify(str(error), severity="error")
            return
        self.notify(
            f"Reconciled {found['period']}: {sum(f['count'] for f in found['found'].values())} found, "
            f"{len(found['open'])} open."
        )
        await self.refresh_rows()

    def _correct(self, title: str, fields: list[tuple[str, str, str]], apply: Any) -> None:
        mismatch = self.selected()
        if mismatch is None or self.k24.store is None or not mismatch.payment_id:
            return

        async def save(values: dict[str, str]) -> None:
            await apply(self.k24.store, mismatch, values)
            await self.refresh_rows()

        self.app.push_screen(CorrectionForm(f"{title} {mismatch.payment_id}", fields, save))

    def action_close_deposit(self) -> None:
        async def apply(store: Any, mismatch: Any, values: dict[str, str]) -> None:
            await corrections.close_deposit(store, mismatch.payment_id, values["note"])
            self.notify(f"Deposit {mismatch.payment_id} closed.")

        self._correct("Close the unpaid deposit", [("note", "Why (expired, cancelled…)", "")], apply)

    def action_credit_deposit(self) -> None:
        mismatch = self.selected()
        evidence = mismatch.evidence if mismatch is not None and isinstance(mismatch.evidence, dict) else {}

        async def apply(store: Any, mismatch: Any, values: dict[str, str]) -> None:
            amount = await corrections.credit_deposit(
                store, mismatch.payment_id, values["operation"].strip(), values["note"]
            )
            self.notify(f"Deposit {mismatch.payment_id} credited {format_money(amount)}.")

        fields = [("operation", "Platform operation id", str(evidence.get("operation_id", ""))), ("note", "Why", "")]
        self._correct("Credit on the platform's record:", fields, apply)

    async def action_toggle_resolved(self) -> None:
        self.show_resolved = not self.show_resolved
        await self.refresh_rows()

    def action_resolve(self, reopen: bool = False) -> None:
        mismatch = self.selected()
        store = self.k24.store
        if mismatch is None or store is None:
            return

        async def save(values: dict[str, str]) -> None:
            await edits.resolve_mismatch(store, mismatch.id, values["note"], reopen=reopen)
            self.notify(f"Mismatch {mismatch.id} {'reopened' if reopen else 'resolved'}.")
            await self.refresh_rows()

        verb = "Reopen" if reopen else "Resolve"
        self.app.push_screen(ResolveForm(f"{verb} {mismatch.kind} · {mismatch.payment_id or ''}", mismatch.note, save))

    def action_reopen(self) -> None:
        self.action_resolve(reopen=True)
