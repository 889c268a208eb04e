"""Fresh simulator accounts in a merchant's database, and a refusal to touch one not ours."""

from __future__ import annotations

import secrets
from typing import Any

from .. import importer
from ..config import Settings
from ..errors import SetupError
from ..runtime import open_store
from ..store import Store
from ..store.db import table_names

OUR_TABLES = frozenset({"accounts", "contracts", "deposits", "callbacks", "traffic", "mismatches", "audit"})


class NotOurDatabase(SetupError):
    """The database holds someone else's tables: the simulator will not add its own."""


async def check_ours(url: str) -> None:
    """Refuse a database that has tables but not kassa24-console's (an empty one is fine)."""
    tables = await table_names(url)
    if tables and not tables >= OUR_TABLES:
        foreign = ", ".join(sorted(tables - OUR_TABLES)[:5])
        raise NotOurDatabase(
            f"the database holds tables that are not kassa24-console's ({foreign}): refusing to seed it"
        )


async def seed_accounts(database_url: str, load_accounts: int = 20, project_id: int | None = None) -> dict[str, Any]:
    """Fresh accounts for one run, in ``project_id`` (else the first project): payable,
    nothing due, blocked, and some for load."""
    run = secrets.token_hex(3)
    ids = {"payable": f"sim-{run}-pay", "nothing_due": f"sim-{run}-nodebt", "blocked": f"sim-{run}-blocked"}
    load = [f"sim-{run}-load{i:02d}" for i in range(load_accounts)]
    accounts = [
        {"customer_id": c, "name": f"Simulator {c}", "currency": "KZT", "additional_customer_id": None}
        for c in [*ids.values(), *load]
    ]

    def contract(cid: str, customer: str, payment: int, status: int = 0) -> dict[str, Any]:
        return {
            "id": cid,
            "customer_id": customer,
            "number": f"SIM/{cid}",
            "payment": payment,
            "min_payment": 100_000 if payment else None,
            "status_code": status,
            "status_text": "blocked by the simulator" if status else "",
            "info": {"customer_name": customer},
        }

    contracts = [
        contract(f"{ids['payable']}-c1", ids["payable"], 1_000_000_000),
        contract(f"{ids['nothing_due']}-c1", ids["nothing_due"], 0),
        contract(f"{ids['blocked']}-c1", ids["blocked"], 500_000, status=206),
        *(contract(f"{c}-c1", c, 1_000_000_000) for c in load),
    ]
    await check_ours(database_url)
    store = Store(database_url)
    await open_store(store, Settings.model_construct(database_url=database_url))
    try:
        batch = importer.Batch(accounts, contracts, ["simulator"])
        await importer.apply(store, batch, actor="simulator", project_id=project_id)
    finally:
        await store.close()
    return {**ids, "load": load}
