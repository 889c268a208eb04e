"""Schema migrations (alembic). Every schema change is a new revision in ``versions/``."""
