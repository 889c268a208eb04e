"""What panes ask of the app: typed messages posted up (they bubble to :class:`.app.Kassa24App`,
whose handlers live in :mod:`.operations`). A pane reads the store itself; it never calls the
app to show a story, open a form or change what the store holds."""

from __future__ import annotations

from typing import Any

from textual.message import Message


class ShowStory(Message):
    """One payment's story, in order (the same from every pane); None: no payment here."""

    def __init__(self, payment_id: str | None) -> None:
        super().__init__()
        self.payment_id = payment_id


class ShowHistory(Message):
    """A contract's history of changes, beside the contract as it is now."""

    def __init__(self, contract: Any) -> None:
        super().__init__()
        self.contract = contract


class EditContract(Message):
    """Open the contract's form: what it shows is what its Save is conditional on."""

    def __init__(self, contract: Any) -> None:
        super().__init__()
        self.contract = contract


class NewAccount(Message):
    """Open the form for a new customer account."""


class NewContract(Message):
    """Open the form for a new contract (of ``customer_id``, when a row was selected)."""

    def __init__(self, customer_id: str = "") -> None:
        super().__init__()
        self.customer_id = customer_id


class ResolveMismatch(Message):
    """Resolve (or reopen) a mismatch with a note."""

    def __init__(self, mismatch: Any, reopen: bool = False) -> None:
        super().__init__()
        self.mismatch = mismatch
        self.reopen = reopen


class CorrectDeposit(Message):
    """Correct a mismatch's deposit: ``close`` it unpaid, or ``credit`` it on the platform's
    operation; a command applied once and audited."""

    def __init__(self, mismatch: Any, how: str) -> None:
        super().__init__()
        self.mismatch = mismatch
        self.how = how


class AcknowledgeAlert(Message):
    """Acknowledge an active alert with a note (no repeats until it resolves)."""

    def __init__(self, alert: Any) -> None:
        super().__init__()
        self.alert = alert
