"""Trust: contract row versions, audit kinds with notes and causes, grouped findings,
the traffic record's reason and signature form, and the write probe for health checks.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("contracts") as batch:
        batch.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
    with op.batch_alter_table("audit") as batch:
        batch.add_column(sa.Column("kind", sa.String(), nullable=False, server_default="edit"))
        batch.add_column(sa.Column("note", sa.String(), nullable=False, server_default=""))
        batch.add_column(sa.Column("cause", sa.String(), nullable=True))
        batch.create_index("ix_audit_entity", ["entity", "entity_id"], unique=False)
    with op.batch_alter_table("mismatches") as batch:
        batch.add_column(sa.Column("occurrences", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("last_seen_at", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("traffic") as batch:
        batch.add_column(sa.Column("reason", sa.String(), nullable=True))
        batch.add_column(sa.Column("sig_form", sa.String(), nullable=True))
    op.create_table(
        "heartbeat",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("pad", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("heartbeat")
    with op.batch_alter_table("traffic") as batch:
        batch.drop_column("sig_form")
        batch.drop_column("reason")
    with op.batch_alter_table("mismatches") as batch:
        batch.drop_column("last_seen_at")
        batch.drop_column("occurrences")
    with op.batch_alter_table("audit") as batch:
        batch.drop_index("ix_audit_entity")
        batch.drop_column("cause")
        batch.drop_column("note")
        batch.drop_column("kind")
    with op.batch_alter_table("contracts") as batch:
        batch.drop_column("version")
