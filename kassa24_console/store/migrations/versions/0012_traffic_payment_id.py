"""The traffic record keeps the payment id: the one our check_deposit answer minted, a
callback's. The payment's story then finds its exchanges by that id (an index), instead of
re-reading stored JSON near the deposit's time.

Existing records are back-filled from what they stored: a check_deposit from our answer's
``payment_id``, a signed callback from its ``payment.id``. Anything that is not JSON, or
holds no string there, stays empty (the story then says no answer was recorded).

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# SQLite's JSON functions: json_valid first, as json_extract raises on text that is not JSON.
SQLITE_BACKFILL = (
    "UPDATE traffic SET payment_id = json_extract(response, '$.payment_id') "
    "WHERE kind = 'check_deposit' AND payment_id IS NULL AND json_valid(response) "
    "AND json_type(response, '$.payment_id') = 'text'",
    "UPDATE traffic SET payment_id = json_extract(request, '$.payment.id') "
    "WHERE kind = 'callback' AND signature_ok AND payment_id IS NULL AND json_valid(request) "
    "AND json_type(request, '$.payment.id') = 'text'",
)
# PostgreSQL: a cast that fails (not JSON, or a \u0000 jsonb refuses) gives NULL, not an error.
PG_PARSE = """
CREATE FUNCTION pg_temp.k24_json(t text) RETURNS jsonb LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN t::jsonb;
EXCEPTION WHEN others THEN
    RETURN NULL;
END $$
"""
PG_BACKFILL = (
    "UPDATE traffic SET payment_id = pg_temp.k24_json(response) ->> 'payment_id' "
    "WHERE kind = 'check_deposit' AND payment_id IS NULL "
    "AND jsonb_typeof(pg_temp.k24_json(response) -> 'payment_id') = 'string'",
    "UPDATE traffic SET payment_id = pg_temp.k24_json(request) -> 'payment' ->> 'id' "
    "WHERE kind = 'callback' AND signature_ok AND payment_id IS NULL "
    "AND jsonb_typeof(pg_temp.k24_json(request) -> 'payment' -> 'id') = 'string'",
)


def upgrade() -> None:
    op.add_column("traffic", sa.Column("payment_id", sa.String(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_PARSE)
        for statement in PG_BACKFILL:
            op.execute(statement)
    else:
        for statement in SQLITE_BACKFILL:
            op.execute(statement)
    op.create_index("ix_traffic_payment_id", "traffic", ["payment_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_traffic_payment_id", table_name="traffic")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_column("traffic", "payment_id")
    else:  # in place (SQLite 3.35+): a batch copy would drop the change triggers
        op.execute("ALTER TABLE traffic DROP COLUMN payment_id")
