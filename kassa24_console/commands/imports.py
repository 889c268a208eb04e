"""``kassa24-console import``: accounts and contracts from JSON or CSV files, all or nothing."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..config import Settings
from ..i18n import _
from ..projects import project_problem
from ..store import Store, display_url


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", type=Path, metavar=_("FILE"))
    parser.add_argument(
        "--project", type=int, metavar="ID", help=_("the project the rows belong to (required when several)")
    )


async def import_files(settings: Settings, files: list[Path], project: int | None = None) -> int:
    from .. import importer
    from ..runtime import open_store

    try:
        batch = importer.merge([importer.read_file(path) for path in files])
    except importer.ImportFailed as error:
        print(_("import failed, nothing applied:") + f"\n{error}", file=sys.stderr)
        return 1
    named = batch.projects()
    every = all(row.get("project_id") is not None for row in batch.accounts + batch.contracts)
    if problem := project_problem(settings, project, named, every_row_named=every):
        print(f"kassa24-console: {problem}", file=sys.stderr)
        return 2
    store = Store(settings.store_url, project_id=settings.project_id)
    await open_store(store, settings)
    try:
        accounts, contracts = await importer.apply(store, batch, project_id=project)
    except importer.ImportFailed as error:
        print(_("import failed, nothing applied:") + f"\n{error}", file=sys.stderr)
        return 1
    finally:
        await store.close()
    where = display_url(settings.store_url)
    print(
        _("imported {accounts} accounts and {contracts} contracts into {where}").format(
            accounts=accounts, contracts=contracts, where=where
        )
    )
    return 0
