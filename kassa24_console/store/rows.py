"""Typed rows of the tables the payment path and the editors read whole.

Named tuples, field for field the table's columns in their order (a test holds them to
it), so a row travels with its types and costs no more than the driver's tuple. Rows of
other reads are declared beside their queries (``changes.AuditEntry``, …).
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
