"""``kassa24-console db``: ``init`` creates the schema, ``info`` counts the records."""

from __future__ import annotations

import argparse

from ..config import Settings
from ..i18n import _
from ..store import display_url


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["init", "info"], help=_("init: create the schema; info: counts"))
    parser.add_argument("--project", type=int, metavar="ID", help=_("info: count one project's records only"))


async def db(settings: Settings, action: str, project: int | None = None) -> int:
    from ..runtime import Runtime
    from ..store import queries as q

    runtime = Runtime(settings)
    await runtime.open()
    try:
        if action == "info":
            rows = [
                (_("accounts"), q.accounts),
                (_("contracts"), q.contracts),
                (_("deposits"), q.deposits),
                (_("callbacks"), q.callbacks),
                (_("mismatches"), q.mismatches),
            ]
            width = max(12, *(len(name) + 1 for name, _table in rows))
            for name, table in rows:
                print(f"{name:{width}} {await runtime.store.scan(q.count, table, project)}")
        else:
            print(_("schema ready in {where}").format(where=display_url(settings.store_url)))
    finally:
        await runtime.close()
    return 0
