"""An alert may be about one project: a previous key still in use near its end is that
project's, and the console's Alerts pane filters by project like the other panes. An alert
about the whole install (requests failing, callbacks overdue, …) has none; existing alerts
keep none.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("alerts", sa.Column("project_id", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_column("alerts", "project_id")
    else:  # in place (SQLite 3.35+): a batch copy would drop the change triggers
        op.execute("ALTER TABLE alerts DROP COLUMN project_id")
