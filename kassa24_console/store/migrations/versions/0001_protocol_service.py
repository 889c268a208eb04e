"""The first released schema: accounts, contracts, deposits, callbacks, traffic, mismatches, audit.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("customer_id", sa.String(), nullable=False),
        sa.Column("additional_customer_id", sa.String(), nullable=True),
        sa.Column("currency", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("customer_id"),
    )
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("entity", sa.String(), nullable=False),
        sa.Column("entity_id", sa.String(), nullable=False),
        sa.Column("field", sa.String(), nullable=False),
        sa.Column("old", sa.String(), nullable=True),
        sa.Column("new", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_audit_at"), "audit", ["at"], unique=False)
    op.create_table(
        "callbacks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.BigInteger(), nullable=False),
        sa.Column("last_received_at", sa.BigInteger(), nullable=False),
        sa.Column("deliveries", sa.Integer(), nullable=False),
        sa.Column("dedupe_key", sa.String(), nullable=True),
        sa.Column("signature_ok", sa.Boolean(), nullable=False),
        sa.Column("payment_id", sa.String(), nullable=True),
        sa.Column("operation_id", sa.String(), nullable=True),
        sa.Column("status", sa.String(), nullable=True),
        sa.Column("operation_status", sa.String(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(), nullable=True),
        sa.Column("customer_id", sa.String(), nullable=True),
        sa.Column("deposit_id", sa.String(), nullable=True),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("raw", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedupe_key", name="uq_callbacks_dedupe_key"),
    )
    op.create_index(op.f("ix_callbacks_payment_id"), "callbacks", ["payment_id"], unique=False)
    op.create_index(op.f("ix_callbacks_received_at"), "callbacks", ["received_at"], unique=False)
    op.create_table(
        "deposits",
        sa.Column("payment_id", sa.String(), nullable=False),
        sa.Column("customer_id", sa.String(), nullable=False),
        sa.Column("contract_id", sa.String(), nullable=True),
        sa.Column("number", sa.String(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("paid_amount", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("payment_id"),
    )
    op.create_index(op.f("ix_deposits_contract_id"), "deposits", ["contract_id"], unique=False)
    op.create_index(op.f("ix_deposits_created_at"), "deposits", ["created_at"], unique=False)
    op.create_index(op.f("ix_deposits_customer_id"), "deposits", ["customer_id"], unique=False)
    op.create_index(op.f("ix_deposits_state"), "deposits", ["state"], unique=False)
    op.create_table(
        "mismatches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("payment_id", sa.String(), nullable=True),
        sa.Column("evidence", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("found_at", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("note", sa.String(), nullable=False),
        sa.Column("resolved_by", sa.String(), nullable=True),
        sa.Column("resolved_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key", name="uq_mismatches_key"),
    )
    op.create_index(op.f("ix_mismatches_kind"), "mismatches", ["kind"], unique=False)
    op.create_index(op.f("ix_mismatches_payment_id"), "mismatches", ["payment_id"], unique=False)
    op.create_index(op.f("ix_mismatches_state"), "mismatches", ["state"], unique=False)
    op.create_table(
        "traffic",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("customer_id", sa.String(), nullable=True),
        sa.Column("contract_id", sa.String(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("code", sa.Integer(), nullable=True),
        sa.Column("http_status", sa.Integer(), nullable=False),
        sa.Column("signature_ok", sa.Boolean(), nullable=True),
        sa.Column("latency_us", sa.BigInteger(), nullable=False),
        sa.Column("peer", sa.String(), nullable=False),
        sa.Column("request", sa.String(), nullable=False),
        sa.Column("response", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_traffic_at", "traffic", ["at"], unique=False)
    op.create_table(
        "contracts",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("customer_id", sa.String(), nullable=False),
        sa.Column("number", sa.String(), nullable=False),
        sa.Column("payment", sa.BigInteger(), nullable=False),
        sa.Column("min_payment", sa.BigInteger(), nullable=True),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("status_text", sa.String(), nullable=False),
        sa.Column("info", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["accounts.customer_id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_contracts_customer_id"), "contracts", ["customer_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_contracts_customer_id"), table_name="contracts")
    op.drop_table("contracts")
    op.drop_index("ix_traffic_at", table_name="traffic")
    op.drop_table("traffic")
    op.drop_index(op.f("ix_mismatches_state"), table_name="mismatches")
    op.drop_index(op.f("ix_mismatches_payment_id"), table_name="mismatches")
    op.drop_index(op.f("ix_mismatches_kind"), table_name="mismatches")
    op.drop_table("mismatches")
    op.drop_index(op.f("ix_deposits_state"), table_name="deposits")
    op.drop_index(op.f("ix_deposits_customer_id"), table_name="deposits")
    op.drop_index(op.f("ix_deposits_created_at"), table_name="deposits")
    op.drop_index(op.f("ix_deposits_contract_id"), table_name="deposits")
    op.drop_table("deposits")
    op.drop_index(op.f("ix_callbacks_received_at"), table_name="callbacks")
    op.drop_index(op.f("ix_callbacks_payment_id"), table_name="callbacks")
    op.drop_table("callbacks")
    op.drop_index(op.f("ix_audit_at"), table_name="audit")
    op.drop_table("audit")
    op.drop_table("accounts")
