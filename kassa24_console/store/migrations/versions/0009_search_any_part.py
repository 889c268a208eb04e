"""Contract search by any part of a customer id, contract id, number or account name, in
any case (Cyrillic and Kazakh letters too), answered by an index.

SQLite: an FTS5 table with the trigram tokenizer (SQLite 3.34 or later; case folded over
all of Unicode) over one row of search terms per contract, kept by triggers. The terms
live in a plain table with an INTEGER PRIMARY KEY (``contract_search``): the index points
at that key, which VACUUM keeps, where a contract's own rowid may change.

PostgreSQL: ``pg_trgm`` GIN indexes (``ILIKE '%part%'`` uses them): one on a contract's id,
customer id and number together, one on the account's name. The
extension is trusted (a database owner may create it); where it cannot be created, the
search still works, by scanning, and a warning says why.

A later migration that rebuilds ``contracts`` or ``accounts`` on SQLite (alembic's batch
mode copies the table and drops the old one) drops these triggers with it: it must create
them again (``SQLITE``'s trigger statements; ``tests/test_search.py`` notices).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import logging
import sqlite3

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

log = logging.getLogger(__name__)

# The terms of a contract: its fields apart (a unit separator no one types), so a match
# never spans two of them.
_TERMS = "c.id || char(31) || c.customer_id || char(31) || coalesce(c.number, '') || char(31) || coalesce(a.name, '')"
_TERMS_OF = f"SELECT {_TERMS} FROM contracts c LEFT JOIN accounts a ON a.customer_id = c.customer_id WHERE c.id = {{}}"

SQLITE = [
    "CREATE TABLE contract_search (id INTEGER PRIMARY KEY, contract_id TEXT NOT NULL UNIQUE, terms TEXT NOT NULL)",
    "CREATE VIRTUAL TABLE contract_search_fts USING fts5("
    "terms, content='contract_search', content_rowid='id', tokenize='trigram')",
    # The FTS index follows its content table (SQLite's external-content pattern).
    "CREATE TRIGGER contract_search_ai AFTER INSERT ON contract_search BEGIN"
    " INSERT INTO contract_search_fts(rowid, terms) VALUES (new.id, new.terms); END",
    "CREATE TRIGGER contract_search_ad AFTER DELETE ON contract_search BEGIN"
    " INSERT INTO contract_search_fts(contract_search_fts, rowid, terms) VALUES ('delete', old.id, old.terms); END",
    "CREATE TRIGGER contract_search_au AFTER UPDATE ON contract_search BEGIN"
    " INSERT INTO contract_search_fts(contract_search_fts, rowid, terms) VALUES ('delete', old.id, old.terms);"
    " INSERT INTO contract_search_fts(rowid, terms) VALUES (new.id, new.terms); END",
    # The terms follow the contracts and their account's name. A payment changes neither.
    "CREATE TRIGGER contracts_search_ai AFTER INSERT ON contracts BEGIN"
    f" INSERT INTO contract_search(contract_id, terms) VALUES (new.id, ({_TERMS_OF.format('new.id')})); END",
    "CREATE TRIGGER contracts_search_au AFTER UPDATE OF id, customer_id, number ON contracts"
    " WHEN old.id IS NOT new.id OR old.customer_id IS NOT new.customer_id OR old.number IS NOT new.number BEGIN"
    " DELETE FROM contract_search WHERE contract_id = old.id;"
    f" INSERT INTO contract_search(contract_id, terms) VALUES (new.id, ({_TERMS_OF.format('new.id')})); END",
    "CREATE TRIGGER contracts_search_ad AFTER DELETE ON contracts BEGIN"
    " DELETE FROM contract_search WHERE contract_id = old.id; END",
    "CREATE TRIGGER accounts_search_au AFTER UPDATE OF name ON accounts WHEN old.name IS NOT new.name BEGIN"
    f" UPDATE contract_search SET terms = ({_TERMS_OF.format('contract_search.contract_id')})"
    " WHERE contract_id IN (SELECT id FROM contracts WHERE customer_id = new.customer_id); END",
    f"INSERT INTO contract_search(contract_id, terms) SELECT c.id, {_TERMS} FROM contracts c"
    " LEFT JOIN accounts a ON a.customer_id = c.customer_id",
]
SQLITE_DOWN = [
    "DROP TRIGGER accounts_search_au",
    "DROP TRIGGER contracts_search_ad",
    "DROP TRIGGER contracts_search_au",
    "DROP TRIGGER contracts_search_ai",
    "DROP TABLE contract_search_fts",
    "DROP TABLE contract_search",
]

# A contract's own fields in one indexed expression (one index walk instead of three; the
# search's ILIKE names the same expression, ``views.CONTRACT_TERMS``), the name in another.
POSTGRES_INDEXES = [
    ("ix_contracts_terms_trgm", "contracts", "(id || chr(31) || customer_id || chr(31) || number)"),
    ("ix_accounts_name_trgm", "accounts", "name"),
]


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        if sqlite3.sqlite_version_info < (3, 34):
            raise RuntimeError(f"contract search needs SQLite 3.34 or later (this Python has {sqlite3.sqlite_version})")
        for statement in SQLITE:
            op.execute(statement)
        return
    if bind.dialect.name != "postgresql":
        return
    try:
        with bind.begin_nested():
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except Exception as error:
        log.warning("contract search scans: the pg_trgm extension cannot be created (%s)", str(error).splitlines()[0])
        return
    for name, table, column in POSTGRES_INDEXES:
        op.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin ({column} gin_trgm_ops)")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for statement in SQLITE_DOWN:
            op.execute(statement)
        return
    for name, _, _ in POSTGRES_INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
