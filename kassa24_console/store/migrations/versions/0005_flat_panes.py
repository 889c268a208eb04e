"""Indexes that keep the console's lists and searches flat as the data grows: callbacks by
when they last arrived, contracts by customer then id (the contracts list's order) and by
number, accounts by name (searches match the start of each), mismatches by state then
when found.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

INDEXES = [
    ("ix_callbacks_last_received", "callbacks", ["last_received_at", "id"]),
    ("ix_contracts_customer_id_id", "contracts", ["customer_id", "id"]),
    ("ix_contracts_number", "contracts", ["number"]),
    ("ix_accounts_name", "accounts", ["name"]),
    ("ix_mismatches_state_found", "mismatches", ["state", "found_at", "id"]),
]


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
