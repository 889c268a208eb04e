"""Accounts and contracts written the way ``import`` writes them."""

from __future__ import annotations

import asyncio
import atexit
import itertools
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import make_url

from kassa24_console import importer
from kassa24_console.config import Settings
from kassa24_console.store import Store

if TYPE_CHECKING:
    from tests.support.endpoint import Endpoint

_ids = itertools.count(1)


def seed(db_url: str, accounts: list[dict[str, Any]], contracts: list[dict[str, Any]]) -> None:
    """Write accounts and contracts the way ``import`` does."""

    async def _apply() -> None:
        store = Store(db_url)
        await store.open()
        try:
            await importer.apply(store, importer.Batch(accounts, contracts, ["test"]), actor="test")
        finally:
            await store.close()

    asyncio.run(_apply())


def new_customer(server: Endpoint, *contracts: dict[str, Any], currency: str = "KZT") -> tuple[str, list[str]]:
    """A fresh account with the given contracts (defaults filled in); returns the ids."""
    n = next(_ids)
    customer = f"77{os.getpid() % 1000:03d}{n:05d}"
    rows = []
    for i, contract in enumerate(contracts):
        row = {
            "id": f"T-{customer}-{i}",
            "customer_id": customer,
            "number": f"N{customer}/{i}",
            "payment": 100_000,
            "min_payment": None,
            "status_code": 0,
            "status_text": "",
            "info": None,
        }
        rows.append({**row, **contract})
    seed(
        server.db_url,
        [{"customer_id": customer, "additional_customer_id": f"A{customer}", "currency": currency, "name": "Test"}],
        rows,
    )
    return customer, [row["id"] for row in rows]


async def seed_demo(settings: Settings) -> None:
    """The demo data imported into the settings' database. A SQLite file not made yet gets a
    copy of one built so once in this process (the schema and the import cost ~0.2 s of
    CPU, a copy ~1 ms); a database that exists is imported into."""
    target = _new_sqlite_file(settings.database_url)
    if target is None:
        await _import_demo(settings.database_url)
        return
    if "demo" not in _built:
        home = Path(tempfile.mkdtemp(prefix="k24-demo-"))
        atexit.register(shutil.rmtree, home, ignore_errors=True)
        await _import_demo(f"sqlite:///{home / 'demo.db'}")
        _built["demo"] = home / "demo.db"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(_built["demo"], target)  # the owner-only mode too


_built: dict[str, Path] = {}  # the demo database of this process, once built


def _new_sqlite_file(url: str) -> Path | None:
    """The path of a SQLite database that does not exist yet (None for any other)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    path = Path(parsed.database).expanduser()
    siblings = (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-journal"))
    return None if any(p.exists() for p in siblings) else path


async def _import_demo(url: str) -> None:
    store = Store(url)
    await store.open()
    await importer.apply(store, importer.read_file(importer.demo_file()), actor="test")
    await store.close()
