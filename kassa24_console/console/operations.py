"""What the panes ask of the app (:mod:`.messages`), handled here: a payment's story, a
contract's history, the operator's forms and the commands behind them. Each save is a command
of the core (:mod:`..edits`, :mod:`..reconcile.corrections`, :mod:`..alerts.state`) with its
cause recorded; after it the lists are read again."""

from __future__ import annotations

from typing import Any

from .. import edits
from ..alerts import state
from ..alerts.words import rule_name, title_text
from ..i18n import N_, _, ngettext
from ..money import format_money
from ..reconcile import corrections
from ..reconcile.words import kind_name
from . import messages
from .screens import AccountForm, ContractForm, CorrectionForm, NewContractForm, ResolveForm, contract_change
from .story import show_history, show_story


class Operations:
    """The app's side of the panes' messages (mixed into :class:`.app.Kassa24App`)."""

    # The app's own, used here: its store and zone, notify, push_screen and refresh_panes.
    store: Any
    zone: Any
    notify: Any
    push_screen: Any
    refresh_panes: Any

    async def _changed(self) -> None:
        """A save changed the store: every list reads again (each only if its tables moved)."""
        await self.refresh_panes()

    async def on_show_story(self, message: messages.ShowStory) -> None:
        await show_story(self, message.payment_id)

    async def on_show_history(self, message: messages.ShowHistory) -> None:
        if self.store is not None:
            await show_history(self, self.store, message.contract)

    async def on_edit_contract(self, message: messages.EditContract) -> None:
        contract, store = message.contract, self.store
        if store is None:
            return
        try:
            # what the form shows is what it saves against
            seen = await edits.load_contract(store, contract.id, getattr(contract, "project_id", None))
        except edits.EditRejected as error:
            self.notify(str(error), severity="error")
            return

        async def save(seen: edits.Seen, change: edits.ContractChange) -> None:
            changed = await edits.update_contract(store, seen, change, zone=self.zone)
            saved = ngettext("Contract {id}: {n} field saved.", "Contract {id}: {n} fields saved.", changed)
            self.notify(saved.format(id=contract.id, n=changed) if changed else _("Nothing changed."))
            await self._changed()

        self.push_screen(ContractForm(contract, seen, save))

    def on_new_account(self) -> None:
        store = self.store
        if store is None:
            return

        async def save(values: dict[str, str]) -> None:
            await edits.add_account(store, values["customer_id"], values["name"], values["additional_customer_id"])
            self.notify(_("Account {id} added.").format(id=values["customer_id"]))
            await self._changed()

        self.push_screen(AccountForm(save))

    def on_new_contract(self, message: messages.NewContract) -> None:
        store = self.store
        if store is None:
            return

        async def save(values: dict[str, str]) -> None:
            change = contract_change(values)
            contract = {
                "id": values["id"].strip(),
                "customer_id": values["customer_id"].strip(),
                "number": values["number"].strip(),
                "payment": change.payment,
                "min_payment": change.min_payment,
                "status_code": change.status_code,
                "status_text": change.status_text,
                "info": None,
            }
            await edits.add_contract(store, contract)
            self.notify(_("Contract {id} added.").format(id=contract["id"]))
            await self._changed()

        self.push_screen(NewContractForm(save, message.customer_id))

    def on_resolve_mismatch(self, message: messages.ResolveMismatch) -> None:
        mismatch, reopen, store = message.mismatch, message.reopen, self.store
        if store is None:
            return

        async def save(values: dict[str, str]) -> None:
            await edits.resolve_mismatch(store, mismatch.id, values["note"], reopen=reopen)
            done = _("Mismatch {id} reopened.") if reopen else _("Mismatch {id} resolved.")
            self.notify(done.format(id=mismatch.id))
            await self._changed()

        verb = _("Reopen") if reopen else _("Resolve")
        title = f"{verb} {kind_name(mismatch.kind)} · {mismatch.payment_id or ''}"
        self.push_screen(ResolveForm(title, mismatch.note, save))

    def on_correct_deposit(self, message: messages.CorrectDeposit) -> None:
        mismatch, store = message.mismatch, self.store
        if store is None or not mismatch.payment_id:
            return
        payment_id = mismatch.payment_id
        if message.how == "close":
            title = N_("Close the unpaid deposit")
            fields = [("note", _("Why (expired, cancelled…)"), "")]

            async def apply(values: dict[str, str]) -> None:
                await corrections.close_deposit(store, payment_id, values["note"])
                self.notify(_("Deposit {payment_id} closed.").format(payment_id=payment_id))

        else:
            title = N_("Credit on the platform's record:")
            evidence = mismatch.evidence if isinstance(mismatch.evidence, dict) else {}
            fields = [
                ("operation", _("Platform operation id"), str(evidence.get("operation_id", ""))),
                ("note", _("Why"), ""),
            ]

            async def apply(values: dict[str, str]) -> None:
                amount = await corrections.credit_deposit(
                    store, payment_id, values["operation"].strip(), values["note"]
                )
                said = _("Deposit {payment_id} credited {amount}.")
                self.notify(said.format(payment_id=payment_id, amount=format_money(amount)))

        async def save(values: dict[str, str]) -> None:
            await apply(values)
            await self._changed()

        self.push_screen(CorrectionForm(f"{_(title)} {payment_id}", fields, save))

    def on_acknowledge_alert(self, message: messages.AcknowledgeAlert) -> None:
        row, store = message.alert, self.store
        if store is None:
            return
        if row.active_key is None:
            self.notify(_("This alert has resolved: there is nothing to acknowledge."), severity="warning")
            return

        async def save(values: dict[str, str]) -> None:
            await state.acknowledge(store, row.id, values["note"])
            self.notify(_("Alert {id} acknowledged: no repeats until it resolves.").format(id=row.id))
            await self._changed()

        title = _("Acknowledge {rule} · {title}").format(rule=rule_name(row.rule), title=title_text(row.title))
        self.push_screen(ResolveForm(title, "", save))
