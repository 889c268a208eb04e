"""Overpayments kept: a contract's credit balance, the money paid past what was due (a
success for a contract already at 0 used to vanish into a payment that stayed at 0).

Revision ID: 0007
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("contracts") as batch:
        batch.add_column(sa.Column("credit", sa.BigInteger(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("contracts") as batch:
        batch.drop_column("credit")
