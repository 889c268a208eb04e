"""``kassa24-console audit``: who or what changed what and when, old → new, with the note, as a
table for people or JSON / CSV for programs (English keys). The history itself is ``audit.read``."""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import sys
from datetime import date
from typing import Any

from rich.console import Console
from rich.table import Table

from .. import audit
from ..config import Settings
from ..i18n import _, ngettext
from ..projects import project_problem
from ..runtime import open_store
from ..store import Store
from ..words import (
    actor_word,
    audit_kind,
    entity_word,
    field_word,
    note_text,
    shown,
)
from ..zones import zone as time_zone


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--contract", metavar="ID", help=_("one contract's history"))
    parser.add_argument("--customer", metavar="ID", help=_("an account and all its contracts"))
    parser.add_argument("--since", type=date.fromisoformat, metavar="DAY", help=_("from this day on (YYYY-MM-DD)"))
    parser.add_argument("--project", type=int, metavar="ID", help=_("one project's history (default: all)"))
    parser.add_argument("--format", choices=["table", "json", "csv"], default="table", help=_("how to print"))


def main(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_run(args, settings))


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    if problem := project_problem(settings, args.project, every_row_named=True):
        print(f"kassa24-console: {problem}", file=sys.stderr)
        return 2
    zone = time_zone(settings.timezone)
    store = Store(settings.store_url, project_id=settings.project_id)
    await open_store(store, settings)
    try:
        rows = await audit.read(
            store, zone, contract=args.contract, customer=args.customer, since=args.since, project=args.project
        )
    finally:
        await store.close()
    entries = [audit.as_dict(row, zone) for row in rows]
    columns = list(audit.COLUMNS)
    if settings.several:  # machine outputs say whose each change is (an id may be in two projects)
        columns.insert(0, "project")
        entries = [{"project": row.project_id, **entry} for row, entry in zip(rows, entries, strict=True)]
    if args.format == "json":
        sys.stdout.write(json.dumps(entries, ensure_ascii=False, indent=2) + "\n")  # a command's output
    elif args.format == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=columns)
        writer.writeheader()
        writer.writerows(entries)
    else:
        _table(entries)
    return 0


def _table(entries: list[dict[str, Any]]) -> None:
    n = len(entries)
    table = Table(title=ngettext("Audit: {n} change", "Audit: {n} changes", n).format(n=n), expand=False)
    for column in (_("when"), _("kind"), _("who"), _("what"), _("change"), _("note / cause")):
        table.add_column(column, overflow="fold")
    for e in entries:
        field = e["field"]
        change = f"{field_word(field)}: {shown(field, e['old'])} → {shown(field, e['new'])}"
        why = " · ".join(part for part in (note_text(e["note"]), e["cause"]) if part)
        what = f"{entity_word(e['entity'])} {e['entity_id']}"
        table.add_row(e["at"].replace("T", " "), audit_kind(e["kind"]), actor_word(e["actor"]), what, change, why)
    Console(width=None if sys.stdout.isatty() else 200).print(table)
