"""An operator's edit made from another process (another desk), as the compare-and-set must meet it."""

from __future__ import annotations

import subprocess
import sys

EDIT_ELSEWHERE = """
import asyncio, sys
from kassa24_console import edits
from kassa24_console.store import Store

async def main(url, contract, field, value):
    store = Store(url)
    await store.open()
    seen = await edits.load_contract(store, contract)
    change = edits.ContractChange(**{**seen.values.__dict__, field: type(getattr(seen.values, field))(value)})
    print(await edits.update_contract(store, seen, change, actor="colleague", note="from another desk"))
    await store.close()

asyncio.run(main(*sys.argv[1:]))
"""


def edit_in_another_process(url: str, contract: str, field: str, value: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", EDIT_ELSEWHERE, url, contract, field, value],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and result.stdout.strip() == "1", result.stderr
