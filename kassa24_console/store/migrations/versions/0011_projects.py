"""Every record belongs to a project: several JetPay projects in one install (issue 20).

Accounts and contracts are keyed by (project_id, customer id) and (project_id, contract
id): a customer id is unique within its project, and the same id in another project is
another customer. Deposits, periods and coverage carry their project (NOT NULL); callbacks,
traffic, mismatches and audit rows carry it when it is known (a forged callback or a body
naming no project of ours has none). Periods and coverage are unique per project. A
traffic record says which of its project's keys matched (``key_used``: current or previous);
a callback's ``dedupe_key`` ends with its project.

Existing rows are given the configured project (the first, or only, one): the store hands
it over in the Alembic config's attributes (``project_id``), as it hands over the
connection; a database migrated without one gets the demo project's id.

SQLite cannot change a primary key or a unique constraint in place: accounts, contracts,
periods and platform_coverage are copied into new tables (children after parents, so the
foreign keys hold at every step), and what dropping the old tables took with them is made
again: the change counters' triggers (migration 0010) and the contract search (0009, now
keyed by project and contract id).

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

DEMO_PROJECT_ID = 1234
# Tables that get a project column in place (NOT NULL where every row has a project).
ADDED = {
    "deposits": False,
    "callbacks": True,
    "traffic": True,
    "mismatches": True,
    "audit": True,
}
INDEXED = ("deposits", "callbacks", "traffic", "mismatches")

# SQLite: the tables rebuilt, as they are at this revision, the project first.
ACCOUNTS = """CREATE TABLE accounts_new (
    project_id BIGINT NOT NULL,
    customer_id VARCHAR NOT NULL,
    additional_customer_id VARCHAR,
    currency VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (project_id, customer_id)
)"""
CONTRACTS = """CREATE TABLE contracts_new (
    project_id BIGINT NOT NULL,
    id VARCHAR NOT NULL,
    customer_id VARCHAR NOT NULL,
    number VARCHAR NOT NULL,
    payment BIGINT NOT NULL,
    min_payment BIGINT,
    status_code INTEGER NOT NULL,
    status_text VARCHAR NOT NULL,
    info JSON,
    updated_at BIGINT NOT NULL,
    version INTEGER DEFAULT '1' NOT NULL,
    credit BIGINT DEFAULT '0' NOT NULL,
    PRIMARY KEY (project_id, id),
    CONSTRAINT fk_contracts_account FOREIGN KEY (project_id, customer_id)
        REFERENCES accounts_new (project_id, customer_id)
)"""
PERIODS = """CREATE TABLE periods_new (
    id INTEGER NOT NULL,
    project_id BIGINT NOT NULL,
    start_at BIGINT NOT NULL,
    end_at BIGINT NOT NULL,
    signed_by VARCHAR NOT NULL,
    signed_at BIGINT NOT NULL,
    reopened_at BIGINT,
    reopened_reason VARCHAR,
    PRIMARY KEY (id),
    CONSTRAINT uq_periods_span UNIQUE (project_id, start_at, end_at)
)"""
COVERAGE = """CREATE TABLE platform_coverage_new (
    id INTEGER NOT NULL,
    project_id BIGINT NOT NULL,
    day VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    operations INTEGER NOT NULL,
    applied_at BIGINT NOT NULL,
    applied_by VARCHAR NOT NULL,
    PRIMARY KEY (id),
    CONSTRAINT uq_platform_coverage_day_source UNIQUE (project_id, day, source)
)"""
REBUILT = [
    (
        "accounts",
        ACCOUNTS,
        "customer_id, additional_customer_id, currency, name, updated_at",
        ["CREATE INDEX ix_accounts_name ON accounts (name)"],
    ),
    (
        "contracts",
        CONTRACTS,
        "id, customer_id, number, payment, min_payment, status_code, status_text, info, updated_at, version, credit",
        [
            "CREATE INDEX ix_contracts_customer_id ON contracts (customer_id)",
            "CREATE INDEX ix_contracts_customer_id_id ON contracts (project_id, customer_id, id)",
            "CREATE INDEX ix_contracts_number ON contracts (number)",
        ],
    ),
    ("periods", PERIODS, "id, start_at, end_at, signed_by, signed_at, reopened_at, reopened_reason", []),
    ("platform_coverage", COVERAGE, "id, day, source, operations, applied_at, applied_by", []),
]

# The contract search (0009), now per project and contract id.
_TERMS = "c.id || char(31) || c.customer_id || char(31) || coalesce(c.number, '') || char(31) || coalesce(a.name, '')"
_JOIN = "FROM contracts c LEFT JOIN accounts a ON a.project_id = c.project_id AND a.customer_id = c.customer_id"
_TERMS_OF = f"SELECT {_TERMS} {_JOIN} WHERE c.project_id = {{0}}.project_id AND c.id = {{0}}.id"
SEARCH_OLD = [
    "DROP TRIGGER IF EXISTS accounts_search_au",
    "DROP TRIGGER IF EXISTS contracts_search_ad",
    "DROP TRIGGER IF EXISTS contracts_search_au",
    "DROP TRIGGER IF EXISTS contracts_search_ai",
    "DROP TABLE IF EXISTS contract_search_fts",
    "DROP TABLE IF EXISTS contract_search",
]
SEARCH = [
    "CREATE TABLE contract_search (id INTEGER PRIMARY KEY, project_id INTEGER NOT NULL, contract_id TEXT NOT NULL,"
    " terms TEXT NOT NULL, UNIQUE (project_id, contract_id))",
    "CREATE VIRTUAL TABLE contract_search_fts USING fts5("
    "terms, content='contract_search', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER contract_search_ai AFTER INSERT ON contract_search BEGIN"
    " INSERT INTO contract_search_fts(rowid, terms) VALUES (new.id, new.terms); END",
    "CREATE TRIGGER contract_search_ad AFTER DELETE ON contract_search BEGIN"
    " INSERT INTO contract_search_fts(contract_search_fts, rowid, terms) VALUES ('delete', old.id, old.terms); END",
    "CREATE TRIGGER contract_search_au AFTER UPDATE ON contract_search BEGIN"
    " INSERT INTO contract_search_fts(contract_search_fts, rowid, terms) VALUES ('delete', old.id, old.terms);"
    " INSERT INTO contract_search_fts(rowid, terms) VALUES (new.id, new.terms); END",
    "CREATE TRIGGER contracts_search_ai AFTER INSERT ON contracts BEGIN"
    " INSERT INTO contract_search(project_id, contract_id, terms)"
    f" VALUES (new.project_id, new.id, ({_TERMS_OF.format('new')})); END",
    "CREATE TRIGGER contracts_search_au AFTER UPDATE OF id, customer_id, number ON contracts"
    " WHEN old.id IS NOT new.id OR old.customer_id IS NOT new.customer_id OR old.number IS NOT new.number BEGIN"
    " DELETE FROM contract_search WHERE project_id = old.project_id AND contract_id = old.id;"
    " INSERT INTO contract_search(project_id, contract_id, terms)"
    f" VALUES (new.project_id, new.id, ({_TERMS_OF.format('new')})); END",
    "CREATE TRIGGER contracts_search_ad AFTER DELETE ON contracts BEGIN"
    " DELETE FROM contract_search WHERE project_id = old.project_id AND contract_id = old.id; END",
    "CREATE TRIGGER accounts_search_au AFTER UPDATE OF name ON accounts WHEN old.name IS NOT new.name BEGIN"
    " UPDATE contract_search SET terms = (SELECT " + _TERMS + " " + _JOIN + " WHERE c.project_id ="
    " contract_search.project_id AND c.id = contract_search.contract_id)"
    " WHERE project_id = new.project_id AND contract_id IN"
    " (SELECT id FROM contracts WHERE project_id = new.project_id AND customer_id = new.customer_id); END",
    f"INSERT INTO contract_search(project_id, contract_id, terms) SELECT c.project_id, c.id, {_TERMS} {_JOIN}",
]
EVENTS = ("insert", "update", "delete")


def _project() -> int:
    """The project existing rows belong to (the store passes the configured one)."""
    given = context.config.attributes.get("project_id")
    return int(given) if given is not None else DEMO_PROJECT_ID


def upgrade() -> None:
    project = _project()
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table, nullable in ADDED.items():
        # Existing rows get the project; new rows always name theirs. SQLite adds a NOT NULL
        # column only with a default (kept in the file, never relied on).
        if sqlite and not nullable:
            op.add_column(table, sa.Column("project_id", sa.BigInteger(), nullable=False, server_default=str(project)))
            continue
        op.add_column(table, sa.Column("project_id", sa.BigInteger(), nullable=True))
        op.execute(f"UPDATE {table} SET project_id = {project}")
        if not nullable:
            op.alter_column(table, "project_id", nullable=False)
    if sqlite:
        _sqlite_rebuild(project)
    else:
        _postgres(project)
    for table in INDEXED:
        op.create_index(f"ix_{table}_project_id", table, ["project_id"])
    # A callback's identity names its project (a delivery claiming another project must not
    # count as a repeat of the real one): the stored keys get theirs.
    op.execute(
        f"UPDATE callbacks SET dedupe_key = dedupe_key || '|{project}'"
        " WHERE dedupe_key IS NOT NULL AND dedupe_key NOT LIKE 'bad-signature:%'"
    )
    # Key rotation: which of the project's keys signed the request (current or previous).
    op.add_column("traffic", sa.Column("key_used", sa.String(), nullable=True))
    op.create_index("ix_traffic_key_used_at", "traffic", ["key_used", "at"])


def _sqlite_rebuild(project: int) -> None:
    for statement in SEARCH_OLD:
        op.execute(statement)
    for table, create, columns, _ in REBUILT:
        op.execute(create)
        op.execute(f"INSERT INTO {table}_new (project_id, {columns}) SELECT {project}, {columns} FROM {table}")
    for table, _, _, _ in reversed(REBUILT):  # children first: the foreign keys hold throughout
        op.execute(f"DROP TABLE {table}")
    for table, _, _, indexes in REBUILT:
        op.execute(f"ALTER TABLE {table}_new RENAME TO {table}")
        for statement in indexes:
            op.execute(statement)
        for event in EVENTS:  # migration 0010's counters, gone with the old table
            op.execute(
                f"CREATE TRIGGER k24_changes_{table}_{event} AFTER {event.upper()} ON {table} "
                f"BEGIN UPDATE table_changes SET n = n + 1 WHERE name = '{table}' AND source = 0; END"
            )
    for statement in SEARCH:
        op.execute(statement)


def _postgres(project: int) -> None:
    for table in ("accounts", "contracts", "periods", "platform_coverage"):
        op.add_column(table, sa.Column("project_id", sa.BigInteger(), nullable=True))
        op.execute(f"UPDATE {table} SET project_id = {project}")
        op.alter_column(table, "project_id", nullable=False)
    op.execute("ALTER TABLE contracts DROP CONSTRAINT IF EXISTS contracts_customer_id_fkey")
    op.execute("ALTER TABLE accounts DROP CONSTRAINT accounts_pkey")
    op.execute("ALTER TABLE accounts ADD PRIMARY KEY (project_id, customer_id)")
    op.execute("ALTER TABLE contracts DROP CONSTRAINT contracts_pkey")
    op.execute("ALTER TABLE contracts ADD PRIMARY KEY (project_id, id)")
    op.create_foreign_key(
        "fk_contracts_account", "contracts", "accounts", ["project_id", "customer_id"], ["project_id", "customer_id"]
    )
    op.drop_index("ix_contracts_customer_id_id", "contracts")
    op.create_index("ix_contracts_customer_id_id", "contracts", ["project_id", "customer_id", "id"])
    op.drop_constraint("uq_periods_span", "periods")
    op.create_unique_constraint("uq_periods_span", "periods", ["project_id", "start_at", "end_at"])
    op.drop_constraint("uq_platform_coverage_day_source", "platform_coverage")
    op.create_unique_constraint("uq_platform_coverage_day_source", "platform_coverage", ["project_id", "day", "source"])


def downgrade() -> None:
    raise NotImplementedError("projects cannot be merged back into one: restore the backup taken before 0011")
