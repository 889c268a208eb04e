"""Several projects in one install: their ids and keys, their customers seeded as ``import``
writes them, and requests signed with one project's key."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from kassa24_console import importer
from kassa24_console.protocol.signature import signed
from kassa24_console.store import Store
from tests.support.endpoint import Endpoint

PRODUCTION, TEST, ROTATED = 4242, 4343, 4444


KEYS = {
    PRODUCTION: "production-key-0123456789",
    TEST: "test-project-key-0123456789",
    ROTATED: "rotated-project-key-0123456",
}


PREVIOUS = {PRODUCTION: "production-old-key-0123456", ROTATED: "rotated-old-key-0123456789"}


PROJECTS = [
    {
        "project_id": PRODUCTION,
        "name": "production",
        "secret_key": KEYS[PRODUCTION],
        "previous_secret_key": PREVIOUS[PRODUCTION],
        "previous_key_until": "2099-01-01T00:00:00+05:00",
    },
    {"project_id": TEST, "name": "test", "test": True, "secret_key": KEYS[TEST]},
    {
        "project_id": ROTATED,
        "name": "rotated",
        "secret_key": KEYS[ROTATED],
        "previous_secret_key": PREVIOUS[ROTATED],
        "previous_key_until": "2020-01-01T00:00:00+05:00",  # over: the previous key is refused
    },
]


SHARED = "7100000001"  # the same customer id in two projects: two customers


ONLY_TEST = "7200000001"


def project_contract(project: int, customer: str, due: int) -> dict[str, Any]:
    return {
        "id": f"C-{customer}",  # the same contract id in both projects too
        "customer_id": customer,
        "number": f"N-{project}",
        "payment": due,
        "min_payment": None,
        "status_code": 0,
        "status_text": "",
        "info": None,
    }


def seed_projects(url: str) -> None:
    async def run() -> None:
        store = Store(url)
        await store.open()
        try:
            for project, customers in ((PRODUCTION, [(SHARED, 900_000)]), (TEST, [(SHARED, 300_000), (ONLY_TEST, 1)])):
                accounts = [
                    {"customer_id": c, "additional_customer_id": None, "currency": "KZT", "name": ""}
                    for c, _ in customers
                ]
                contracts = [project_contract(project, c, due) for c, due in customers]
                batch = importer.Batch(accounts, contracts, [f"{project}.json"])
                await importer.apply(store, batch, actor="test", project_id=project)
        finally:
            await store.close()

    asyncio.run(run())


def post_as(server: Endpoint, body: dict[str, Any], key: str, path: str = "/kassa24") -> httpx.Response:
    return server.http.post(server.url + path, json=signed(body, key))


def in_(project: int, body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "project_id": project}


def due_of(server: Endpoint, project: int, contract: str) -> int:
    rows = server.rows("SELECT payment FROM contracts WHERE project_id = ? AND id = ?", project, contract)
    return rows[0]["payment"]
