"""A change counter per table the console shows, bumped by triggers in the writing
transaction: the console learns *which* tables changed and re-reads only those panes (a
traffic flush no longer makes every pane recount). A row trigger on traffic costs a few
microseconds a request on SQLite; PostgreSQL counts a statement (a batch of rows) once.

SQLite: a row trigger adds one to the table's single row (writers take turns anyway).
PostgreSQL: a statement trigger adds one to the row of the writing backend (its pid), so
concurrent transactions never wait on a shared row; readers sum the rows.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

COUNTED = (
    "accounts",
    "contracts",
    "deposits",
    "callbacks",
    "mismatches",
    "periods",
    "platform_coverage",
    "audit",
    "traffic",
    "alerts",
    "alert_deliveries",
)
EVENTS = ("insert", "update", "delete")

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION k24_count_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO table_changes (name, source, n) VALUES (TG_TABLE_NAME, pg_backend_pid(), 1)
    ON CONFLICT (name, source) DO UPDATE SET n = table_changes.n + 1;
    RETURN NULL;
END $$
"""


def upgrade() -> None:
    op.create_table(
        "table_changes",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("source", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", "source"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        for table in COUNTED:
            op.execute(
                f"CREATE TRIGGER k24_changes_{table} AFTER INSERT OR UPDATE OR DELETE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION k24_count_change()"
            )
        return
    for table in COUNTED:
        op.execute(f"INSERT INTO table_changes (name, source, n) VALUES ('{table}', 0, 0)")
        for event in EVENTS:
            op.execute(
                f"CREATE TRIGGER k24_changes_{table}_{event} AFTER {event.upper()} ON {table} "
                f"BEGIN UPDATE table_changes SET n = n + 1 WHERE name = '{table}' AND source = 0; END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in COUNTED:
            op.execute(f"DROP TRIGGER IF EXISTS k24_changes_{table} ON {table}")
        op.execute("DROP FUNCTION IF EXISTS k24_count_change()")
    else:
        for table in COUNTED:
            for event in EVENTS:
                op.execute(f"DROP TRIGGER IF EXISTS k24_changes_{table}_{event}")
    op.drop_table("table_changes")
