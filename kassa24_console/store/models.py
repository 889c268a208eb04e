"""The tables. Money is integer minor units; times are UTC epoch microseconds.

Integers for time keep comparisons and indexes cheap on SQLite and PostgreSQL alike and
leave formatting (and the Asia/Almaty day) to the edges.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Column, ForeignKeyConstraint, Index, LargeBinary, Table, UniqueConstraint
from sqlmodel import Field, SQLModel


def table_of(model: type[SQLModel]) -> Table:
    """A model's table, typed as one (``Model.__table__`` is not declared to type checkers)."""
    return SQLModel.metadata.tables[str(model.__tablename__)]


def _big(**kwargs: Any) -> Any:
    return Field(sa_type=BigInteger, **kwargs)


def _project_key() -> Any:
    """The project as part of a primary key (never generated)."""
    return Field(primary_key=True, sa_type=BigInteger, sa_column_kwargs={"autoincrement": False})


class Account(SQLModel, table=True):
    __tablename__ = "accounts"
    __table_args__ = (Index("ix_accounts_name", "name"),)

    # A customer id is unique within its project (migration 0011).
    project_id: int = _project_key()
    customer_id: str = Field(primary_key=True)
    additional_customer_id: str | None = None
    currency: str = "KZT"
    name: str = ""
    updated_at: int = _big(default=0)


class Contract(SQLModel, table=True):
    __tablename__ = "contracts"
    __table_args__ = (
        ForeignKeyConstraint(
            ["project_id", "customer_id"], ["accounts.project_id", "accounts.customer_id"], name="fk_contracts_account"
        ),
        Index("ix_contracts_customer_id_id", "project_id", "customer_id", "id"),  # verify's read
        Index("ix_contracts_number", "number"),
    )

    project_id: int = _project_key()
    id: str = Field(primary_key=True)
    customer_id: str = Field(index=True)
    number: str
    payment: int = _big(default=0)
    # Paid past what was due (an overpayment), kept for finance to refund or carry; only a
    # payment raises it, as a delta in SQL.
    credit: int = _big(default=0, sa_column_kwargs={"server_default": "0"})
    min_payment: int | None = _big(default=None)
    status_code: int = 0
    status_text: str = ""
    info: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON(none_as_null=True)))
    updated_at: int = _big(default=0)
    # Goes up with every change (payment, import, operator): an edit is saved only against
    # the version the operator saw.
    version: int = Field(default=1, sa_column_kwargs={"server_default": "1"})


class Deposit(SQLModel, table=True):
    """A payment id we handed out in answer to check_deposit."""

    __tablename__ = "deposits"

    payment_id: str = Field(primary_key=True)
    project_id: int = _big(index=True)
    customer_id: str = Field(index=True)
    contract_id: str | None = Field(default=None, index=True)
    number: str | None = None
    amount: int = _big()
    currency: str
    # pending → paid | failed, decided only by callbacks (conditional updates).
    state: str = Field(default="pending", index=True)
    paid_amount: int | None = _big(default=None)
    created_at: int = _big(index=True)
    updated_at: int = _big()


class CallbackRecord(SQLModel, table=True):
    """One distinct callback; repeated deliveries only count up ``deliveries``."""

    __tablename__ = "callbacks"
    __table_args__ = (
        UniqueConstraint("dedupe_key", name="uq_callbacks_dedupe_key"),
        Index("ix_callbacks_last_received", "last_received_at", "id"),  # the Callbacks pane's order
    )

    id: int | None = Field(default=None, primary_key=True)
    received_at: int = _big(index=True)
    last_received_at: int = _big()
    deliveries: int = 1
    project_id: int | None = _big(default=None, index=True)  # None: not signed by a project of ours
    # payment.id|operation.id|operation.status; NULL when the signature is bad.
    dedupe_key: str | None = None
    signature_ok: bool
    payment_id: str | None = Field(default=None, index=True)
    operation_id: str | None = None
    status: str | None = None
    operation_status: str | None = None
    amount: int | None = _big(default=None)
    currency: str | None = None
    customer_id: str | None = None
    deposit_id: str | None = None
    # applied | recorded | duplicate | conflict | unknown_payment | invalid_amount | rejected
    outcome: str = ""
    raw: str


class Traffic(SQLModel, table=True):
    """Every inbound request and our answer, written in batches off the request path."""

    __tablename__ = "traffic"
    __table_args__ = (
        Index("ix_traffic_at", "at"),
        Index("ix_traffic_payment_id", "payment_id"),
        Index("ix_traffic_key_used_at", "key_used", "at"),  # which key signs lately (keys, key_expiring)
    )

    id: int | None = Field(default=None, primary_key=True)
    at: int = _big()
    kind: str
    project_id: int | None = _big(default=None, index=True)  # None: no project of ours named
    customer_id: str | None = None
    contract_id: str | None = None
    amount: int | None = _big(default=None)
    code: int | None = None
    http_status: int
    signature_ok: bool | None = None
    latency_us: int = _big(default=0)
    peer: str = ""
    request: str
    response: str
    # Why a non-zero code or an HTTP error (short), and the signature form that matched.
    reason: str | None = None
    sig_form: str | None = None
    # The payment the exchange is about: the id our check_deposit answer minted, a callback's
    # payment id (the payment's story finds its exchanges by it).
    payment_id: str | None = None
    key_used: str | None = None  # current | previous: which of the project's keys matched


class Mismatch(SQLModel, table=True):
    """Something the records disagree on, found live or by reconciliation."""

    __tablename__ = "mismatches"
    __table_args__ = (
        UniqueConstraint("key", name="uq_mismatches_key"),
        Index("ix_mismatches_state_found", "state", "found_at", "id"),  # the Mismatches pane's order
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str
    kind: str = Field(index=True)
    project_id: int | None = _big(default=None, index=True)  # None: about no one project
    payment_id: str | None = Field(default=None, index=True)
    evidence: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON(none_as_null=True)))
    action: str = ""
    found_at: int = _big()
    state: str = Field(default="open", index=True)
    note: str = ""
    resolved_by: str | None = None
    resolved_at: int | None = _big(default=None)
    # Found again (same key): how often, and when last (e.g. bad signatures from one peer).
    occurrences: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    last_seen_at: int | None = _big(default=None)
    # When the fact it is about happened (the deposit, the platform's operation, the
    # callback): what decides which period it belongs to, whenever it was found.
    occurred_at: int | None = _big(default=None, index=True)


class Audit(SQLModel, table=True):
    """Who or what changed what, when, and why: one row per changed field.

    ``kind`` keeps the kinds of history apart: ``edit`` (an operator), ``payment`` (a
    callback credited; ``cause`` is the payment id), ``import`` (``cause`` is the file),
    ``resolve``/``reopen`` (a mismatch, with the operator's note), ``sign_off``.
    """

    __tablename__ = "audit"
    __table_args__ = (Index("ix_audit_entity", "entity", "entity_id"),)

    id: int | None = Field(default=None, primary_key=True)
    at: int = _big(index=True)
    project_id: int | None = _big(default=None)
    actor: str
    kind: str = Field(default="edit", sa_column_kwargs={"server_default": "edit"})
    entity: str
    entity_id: str
    field: str
    old: str | None = None
    new: str | None = None
    note: str = Field(default="", sa_column_kwargs={"server_default": ""})
    cause: str | None = None


class PlatformOperation(SQLModel, table=True):
    """An operation in the platform's own record (report CSV or Data API)."""

    __tablename__ = "platform_operations"
    __table_args__ = (UniqueConstraint("operation_id", name="uq_platform_operations_operation_id"),)

    id: int | None = Field(default=None, primary_key=True)
    operation_id: str
    payment_id: str | None = Field(default=None, index=True)
    project_id: int | None = None
    type: str = ""
    status: str = ""
    method: str = ""
    amount: int | None = _big(default=None)
    currency: str | None = None
    customer_id: str | None = None
    created_at: int | None = _big(default=None, index=True)
    completed_at: int | None = _big(default=None)
    source: str = ""
    imported_at: int = _big()


class SignedPeriod(SQLModel, table=True):
    """A reconciled period, signed off by an operator when nothing was left open."""

    __tablename__ = "periods"
    __table_args__ = (UniqueConstraint("project_id", "start_at", "end_at", name="uq_periods_span"),)

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = _big()
    start_at: int = _big()
    end_at: int = _big()
    signed_by: str
    signed_at: int = _big()
    # Set when something in the period changed after it was signed (cleared by signing again).
    reopened_at: int | None = _big(default=None)
    reopened_reason: str | None = None


class PlatformCoverage(SQLModel, table=True):
    """A day (in the configured zone) for which the platform's record was applied, from
    which source: a period signs off only when every day of it has one."""

    __tablename__ = "platform_coverage"
    __table_args__ = (UniqueConstraint("project_id", "day", "source", name="uq_platform_coverage_day_source"),)

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = _big()
    day: str
    source: str
    operations: int = 0
    applied_at: int = _big()
    applied_by: str


class Heartbeat(SQLModel, table=True):
    """What the health check writes: proof that a write of a page's size commits right now."""

    __tablename__ = "heartbeat"

    id: int | None = Field(default=None, primary_key=True)
    at: int = _big()
    pad: bytes | None = Field(default=None, sa_type=LargeBinary)


class Alert(SQLModel, table=True):
    """One episode of an alert: from when its condition started until it cleared.

    ``active_key`` is the rule's key while the episode lasts and NULL once resolved: its
    unique constraint lets exactly one process start an episode (and so send it), however
    many evaluate the same rules at once; repeats and the resolution are claimed by
    conditional updates of this row.
    """

    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("active_key", name="uq_alerts_active_key"),
        Index("ix_alerts_started", "started_at", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str
    rule: str = Field(index=True)
    active_key: str | None = None
    title: str
    text: str = ""
    started_at: int = _big()
    last_sent_at: int = _big()
    sends: int = 1
    resolved_at: int | None = _big(default=None)
    acked_by: str | None = None
    acked_at: int | None = _big(default=None)
    ack_note: str = Field(default="", sa_column_kwargs={"server_default": ""})
    project_id: int | None = _big(default=None)  # None: about the whole install, not one project


class AlertDelivery(SQLModel, table=True):
    """What one channel did with one message of an alert (the channel as scheme and host:
    never its secrets)."""

    __tablename__ = "alert_deliveries"

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int | None = Field(default=None, index=True)
    event: str  # fired | repeat | resolved
    channel: str
    ok: bool
    attempts: int = 1
    error: str | None = None
    at: int = _big()


class TableChange(SQLModel, table=True):
    """How many writes each table the console shows has had (migration 0010's triggers
    count them in the writing transaction): the console re-reads a pane only when a table it
    shows moved. ``source`` is 0 on SQLite (one writer at a time); on PostgreSQL the
    writing backend's pid, so concurrent writers never wait on one counter row."""

    __tablename__ = "table_changes"

    name: str = Field(primary_key=True)
    source: int = Field(default=0, primary_key=True, sa_type=BigInteger, sa_column_kwargs={"autoincrement": False})
    n: int = _big(default=0)
