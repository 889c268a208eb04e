"""Alembic environment: migrations run on a connection the store hands over."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

from kassa24_console.store import models  # noqa: F401  (registers the tables)

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
