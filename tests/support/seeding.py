"""Accounts and contracts written the way ``import`` writes them."""

from __future__ import annotations

import asyncio
import itertools
import os
from typing import TYPE_CHECKING, Any

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
    store = Store(settings.database_url)
    await store.open()
    await importer.apply(store, importer.read_file(importer.demo_file()), actor="test")
    await store.close()
