"""Typed rows of the tables the payment path and the editors read whole.

Named tuples, field for field the table's columns in their order (a test holds them to
it), so a row travels with its types and costs no more than the driver's tuple. An audit
row is read whole by the history and the story. Rows of other reads are declared beside
their queries (``changes.MismatchState``, …).
"""

from __future__ import annotations

from typing import Any, NamedTuple


class AccountRow(NamedTuple):
    project_id: int
    customer_id: str
    additional_customer_id: str | None
    currency: str
    name: str
    updated_at: int


class ContractRow(NamedTuple):
    project_id: int
    id: str
    customer_id: str
    number: str
    payment: int
    credit: int
    min_payment: int | None
    status_code: int
    status_text: str
    info: dict[str, Any] | None  # a contract's own JSON, as the platform shows it
    updated_at: int
    version: int


class DepositRow(NamedTuple):
    payment_id: str
    project_id: int
    customer_id: str
    contract_id: str | None
    number: str | None
    amount: int
    currency: str
    state: str
    paid_amount: int | None
    created_at: int
    updated_at: int


class CallbackCount(NamedTuple):
    """A callback as stored or counted again: its id and how many deliveries so far."""

    id: int
    deliveries: int


class Due(NamedTuple):
    """What a contract has due and its credit (before or after a payment)."""

    payment: int
    credit: int


class AuditEntry(NamedTuple):
    """One audit row: who or what changed which field of what, when, old → new, and why."""

    id: int
    at: int
    project_id: int | None
    actor: str
    kind: str
    entity: str
    entity_id: str
    field: str
    old: str | None
    new: str | None
    note: str
    cause: str | None


class TrafficRow(NamedTuple):
    """One exchange as kept: what was asked, what we answered (``request``, ``response``)."""

    id: int
    at: int
    kind: str
    project_id: int | None
    customer_id: str | None
    contract_id: str | None
    amount: int | None
    code: int | None
    http_status: int
    signature_ok: bool | None
    latency_us: int
    peer: str
    request: str
    response: str
    reason: str | None
    sig_form: str | None
    payment_id: str | None
    key_used: str | None


class CallbackRow(NamedTuple):
    """One stored callback (``raw``: its body as received)."""

    id: int
    received_at: int
    last_received_at: int
    deliveries: int
    project_id: int | None
    dedupe_key: str | None
    signature_ok: bool
    payment_id: str | None
    operation_id: str | None
    status: str | None
    operation_status: str | None
    amount: int | None
    currency: str | None
    customer_id: str | None
    deposit_id: str | None
    outcome: str
    raw: str


class OperationRow(NamedTuple):
    """One operation of the platform's own record (a report or the Data API)."""

    id: int
    operation_id: str
    payment_id: str | None
    project_id: int | None
    type: str
    status: str
    method: str
    amount: int | None
    currency: str | None
    customer_id: str | None
    created_at: int | None
    completed_at: int | None
    source: str
    imported_at: int


class MismatchRow(NamedTuple):
    """One finding as stored (``evidence``: the facts, JSON)."""

    id: int
    key: str
    kind: str
    project_id: int | None
    payment_id: str | None
    evidence: dict[str, Any] | None
    action: str
    found_at: int
    state: str
    note: str
    resolved_by: str | None
    resolved_at: int | None
    occurrences: int
    last_seen_at: int | None
    occurred_at: int | None


# --- the console's pages (store.views): a table's columns less what a list never shows ----


class TrafficLine(NamedTuple):
    """One exchange as the traffic list shows it: a ``TrafficRow`` without the bodies."""

    id: int
    at: int
    kind: str
    project_id: int | None
    customer_id: str | None
    contract_id: str | None
    amount: int | None
    code: int | None
    http_status: int
    signature_ok: bool | None
    latency_us: int
    peer: str
    reason: str | None
    sig_form: str | None
    payment_id: str | None
    key_used: str | None


class CallbackLine(NamedTuple):
    """One callback as the Callbacks pane lists it: a ``CallbackRow`` without its body."""

    id: int
    received_at: int
    last_received_at: int
    deliveries: int
    project_id: int | None
    dedupe_key: str | None
    signature_ok: bool
    payment_id: str | None
    operation_id: str | None
    status: str | None
    operation_status: str | None
    amount: int | None
    currency: str | None
    customer_id: str | None
    deposit_id: str | None
    outcome: str


class ContractLine(NamedTuple):
    """One contract as the Contracts pane lists it, with its account's name."""

    id: str
    customer_id: str
    name: str
    number: str
    payment: int
    credit: int
    min_payment: int | None
    status_code: int
    status_text: str
    project_id: int


class KeyUseRow(NamedTuple):
    """How many requests a project's key (``current`` or ``previous``) signed, and when last."""

    project_id: int | None
    key_used: str
    n: int
    last_at: int
