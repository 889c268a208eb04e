"""Modal screens: request/response detail, help, and the operator's forms."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Markdown, Static, TextArea

from ..edits import (
    ContractChange,
    EditConflict,
    EditRejected,
    Seen,
    check_contract,
    parse_major,
    parse_status_code,
)
from ..i18n import N_, _
from ..money import format_amount, format_money
from .format import wrap_at_spaces


def steady(root: Any) -> None:
    """No blinking cursors when the app is not live (snapshot tests need still frames)."""
    if not getattr(root.app, "live", True):
        for widget in root.query("Input, TextArea"):
            widget.cursor_blink = False


class Reading(TextArea):
    """A read-only text to look through: Home and End go to its first and last line."""

    BINDINGS = [
        Binding("home,ctrl+home", "first", N_("First line"), show=False),
        Binding("end,ctrl+end", "last", N_("Last line"), show=False),
    ]

    def action_first(self) -> None:
        self.move_cursor((0, 0))

    def action_last(self) -> None:
        self.move_cursor(self.document.end)


class DetailScreen(ModalScreen[None]):
    """The raw request and our raw response, pretty-printed and selectable for copying."""

    BINDINGS = [
        Binding("escape", "dismiss", N_("Close"), id="detail.close"),
        Binding("c", "copy", N_("Copy both"), id="detail.copy"),
    ]

    def __init__(self, title: str, request: str, response: str, labels: tuple[str, str] | None = None) -> None:
        super().__init__()
        labels = labels or (_("Request"), _("Our response"))
        self._title, self._request, self._response, self._labels = title, request, response, labels

    def compose(self) -> ComposeResult:
        with Vertical(id="detail"):
            yield Static(self._title, id="detail-title", markup=False)
            with Horizontal():
                with Vertical():
                    yield Label(self._labels[0])
                    yield Reading(self._request, read_only=True, id="detail-request")
                with Vertical():
                    yield Label(self._labels[1])
                    yield Reading(self._response, read_only=True, id="detail-response")
            yield Static(_("Esc close · c copy both · select text with the mouse to copy a part"), classes="hint")

    def on_mount(self) -> None:
        steady(self)

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(f"{self._request}\n\n{self._response}")
        self.notify(_("Request and response copied."))


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,f1,q", "dismiss", N_("Close"), id="help.close")]

    def __init__(self, text: str) -> None:
        super().__init__()
        self._text = text

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Markdown(self._text)


class Unbroken(Static):
    """Text wrapped at plain spaces only: an amount (``45 000,00 ₸``, no-break spaces) is
    never split over two lines."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("", markup=False, **kwargs)
        self._message = ""

    def say(self, message: str) -> None:
        self._message = message
        self.update(message)

    def render(self) -> Any:
        return Text("\n".join(wrap_at_spaces(self._message, max(self.content_size.width, 20))), no_wrap=True)


class _Form(ModalScreen[bool]):
    """A form whose Save runs ``save`` and stays open with the reason if it is refused."""

    BINDINGS = [Binding("escape", "cancel", N_("Cancel"), id="form.cancel")]
    TITLE_TEXT = ""

    def __init__(self, save: Callable[[dict[str, str]], Awaitable[None]]) -> None:
        super().__init__()
        self._save = save

    def fields(self) -> list[tuple[str, str, str]]:
        """(id, label, initial value) of each input."""
        raise NotImplementedError

    def facts(self) -> str:
        """What the form shows beside its inputs and does not edit (empty: nothing)."""
        return ""

    def compose(self) -> ComposeResult:
        with Vertical(classes="form"):
            yield Static(_(self.TITLE_TEXT), classes="form-title", markup=False)
            if facts := self.facts():
                yield Static(facts, id="form-facts", classes="hint", markup=False)
            with VerticalScroll(classes="form-fields"), Grid(classes="form-grid"):  # scrolls; Save stays in view
                for field_id, label, value in self.fields():
                    yield Label(label)
                    if field_id == "status_code":  # digits only: a letter never reaches the field
                        yield Input(value, id=field_id, restrict=r"[0-9]*", max_length=3)
                    else:
                        yield Input(value, id=field_id)
            yield Unbroken(id="form-error")
            with Horizontal(classes="form-buttons"):
                yield Button(_("Save"), variant="primary", id="save")
                yield Button(_("Cancel"), id="cancel")

    def on_mount(self) -> None:
        steady(self)
        self.query(Input).first().focus()  # the first keystrokes go into the first field

    def values(self) -> dict[str, str]:
        return {i.id or "": i.value for i in self.query(Input)}

    @on(Button.Pressed, "#save")
    @on(Input.Submitted)
    async def _on_save(self) -> None:
        try:
            await self._save(self.values())
        except EditRejected as error:
            self.query_one("#form-error", Unbroken).say(f"✗ {error}")
            return
        self.dismiss(True)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(False)


class ContractForm(_Form):
    """Status code, the text shown for it, amount due and minimum payment of one contract.

    Saved against what the form showed (:class:`~kassa24_console.edits.Seen`): when the
    contract changed meanwhile, the refusal says what changed, the form shows the current
    values, and a second Save means the operator still wants their change.
    """

    def __init__(self, contract: Any, seen: Seen, save: Callable[[Seen, ContractChange], Awaitable[None]]) -> None:
        self.contract = contract
        self.seen = seen
        self.credit: int = getattr(contract, "credit", 0) or 0  # overpayments kept (#22), not edited here

        async def _save(values: dict[str, str]) -> None:
            change = contract_change(values)
            try:
                await save(self.seen, change)
            except EditConflict as conflict:
                if conflict.current is not None:
                    self.seen = Seen.of(conflict.current)
                    self.credit = getattr(conflict.current, "credit", self.credit)
                    for field_id, _label, value in self.fields():
                        self.query_one(f"#{field_id}", Input).value = value
                    self.query_one("#form-facts", Static).update(self.facts())
                raise

        super().__init__(_save)
        self.TITLE_TEXT = _("Contract {id} · {number} · customer {customer}").format(
            id=contract.id, number=contract.number, customer=contract.customer_id
        )

    def facts(self) -> str:
        return _("Credit (overpayments kept): {credit}").format(credit=format_money(self.credit))

    def fields(self) -> list[tuple[str, str, str]]:
        c = self.seen.values
        return [
            ("status_code", _("Status code (0 = pay)"), str(c.status_code)),
            ("status_text", _("Status text"), c.status_text or ""),
            ("payment", _("Amount due, KZT"), format_amount(c.payment)),
            ("min_payment", _("Minimum payment, KZT"), format_amount(c.min_payment)),
        ]


def contract_change(values: dict[str, str]) -> ContractChange:
    """The form's values, every invalid field reported at once (one line each)."""
    problems: list[str] = []

    def attempt(parse: Callable[[], Any]) -> Any:
        try:
            return parse()
        except EditRejected as error:
            problems.append(str(error))
            return None

    code = attempt(lambda: parse_status_code(values["status_code"]))
    payment = attempt(lambda: parse_major(values["payment"], "amount due"))
    minimum = attempt(lambda: parse_major(values["min_payment"], "minimum payment", optional=True))
    if problems:
        raise EditRejected("\n".join(problems))
    change = ContractChange(
        status_code=code, status_text=values["status_text"].strip(), payment=payment, min_payment=minimum
    )
    check_contract(change)
    return change


class AccountForm(_Form):
    TITLE_TEXT = N_("New account")

    def fields(self) -> list[tuple[str, str, str]]:
        return [
            ("customer_id", _("Customer id"), ""),
            ("name", _("Name"), ""),
            ("additional_customer_id", _("Additional id"), ""),
        ]


class NewContractForm(_Form):
    TITLE_TEXT = N_("New contract")

    def __init__(self, save: Callable[[dict[str, str]], Awaitable[None]], customer_id: str = "") -> None:
        super().__init__(save)
        self._customer = customer_id

    def fields(self) -> list[tuple[str, str, str]]:
        return [
            ("customer_id", _("Customer id"), self._customer),
            ("id", _("Contract id"), ""),
            ("number", _("Contract number"), ""),
            ("payment", _("Amount due, KZT"), format_amount(0)),
            ("min_payment", _("Minimum payment, KZT"), ""),
            ("status_code", _("Status code"), "0"),
            ("status_text", _("Status text"), ""),
        ]


class ResolveForm(_Form):
    def __init__(self, title: str, note: str, save: Callable[[dict[str, str]], Awaitable[None]]) -> None:
        super().__init__(save)
        self.TITLE_TEXT = title
        self._note = note

    def fields(self) -> list[tuple[str, str, str]]:
        return [("note", _("Note"), self._note)]


class CorrectionForm(_Form):
    """A correction of a deposit: its fields (an operation id, a note), saved by a command
    that is applied once and audited."""

    def __init__(
        self, title: str, fields: list[tuple[str, str, str]], save: Callable[[dict[str, str]], Awaitable[None]]
    ) -> None:
        super().__init__(save)
        self.TITLE_TEXT = title
        self._fields = fields

    def fields(self) -> list[tuple[str, str, str]]:
        return self._fields


class ConfirmScreen(ModalScreen[bool]):
    """A yes-or-no question before something that cannot be taken back."""

    BINDINGS = [
        Binding("y", "answer(True)", N_("Yes"), id="confirm.yes"),
        Binding("n,escape", "answer(False)", N_("No"), id="confirm.no"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self._question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="form"):
            yield Static(self._question, classes="form-title", markup=False)
            with Horizontal(classes="form-buttons"):
                yield Button(_("Yes (y)"), variant="warning", id="yes")
                yield Button(_("No (n)"), id="no")

    @on(Button.Pressed)
    def _on_button(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)
