"""Sign-off that means something: which days the platform's record covers, when a finding's
fact happened, and periods reopened after sign-off.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mismatches") as batch:
        batch.add_column(sa.Column("occurred_at", sa.BigInteger(), nullable=True))
        batch.create_index("ix_mismatches_occurred_at", ["occurred_at"], unique=False)
    with op.batch_alter_table("periods") as batch:
        batch.add_column(sa.Column("reopened_at", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("reopened_reason", sa.String(), nullable=True))
    op.create_table(
        "platform_coverage",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.String(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("operations", sa.Integer(), nullable=False),
        sa.Column("applied_at", sa.BigInteger(), nullable=False),
        sa.Column("applied_by", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("day", "source", name="uq_platform_coverage_day_source"),
    )


def downgrade() -> None:
    op.drop_table("platform_coverage")
    with op.batch_alter_table("periods") as batch:
        batch.drop_column("reopened_reason")
        batch.drop_column("reopened_at")
    with op.batch_alter_table("mismatches") as batch:
        batch.drop_index("ix_mismatches_occurred_at")
        batch.drop_column("occurred_at")
