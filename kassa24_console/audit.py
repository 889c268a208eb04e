"""``kassa24-console audit``: who or what changed what and when, old → new, with the note.

Kinds keep the history honest: ``edit`` (an operator, by OS user), ``payment`` (a callback
credited; the cause is the payment id), ``import`` (the cause is the file), ``resolve`` and
``reopen`` (a mismatch, with the note), ``sign_off`` (a period).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import sys
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table
from sqlalchemy import Connection, and_, or_, select

from .config import Settings
from .i18n import _
from .money import format_money
from .projects import project_problem
from .runtime import open_store
from .store import Store
from .store import queries as q
from .zones import zone as time_zone

MONEY_FIELDS = frozenset({"payment", "min_payment"})
COLUMNS = ("at", "kind", "actor", "entity", "entity_id", "field", "old", "new", "note", "cause")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--contract", metavar="ID", help="one contract's history")
    parser.add_argument("--customer", metavar="ID", help="an account and all its contracts")
    parser.add_argument("--since", type=date.fromisoformat, metavar="DAY", help="from this day on (YYYY-MM-DD)")
    parser.add_argument("--project", type=int, metavar="ID", help=_("one project's history (default: all)"))
    parser.add_argument("--format", choices=["table", "json", "csv"], default="table")


def history(
    connection: Connection,
    *,
    contract: str | None = None,
    customer: str | None = None,
    since: int | None = None,
    project: int | None = None,
) -> list[Any]:
    """Audit rows, oldest first, narrowed by contract, customer (its account and contracts),
    time (UTC µs) and project."""
    a, c = q.audit, q.contracts
    conditions: list[Any] = [] if project is None else [a.c.project_id == project]
    if contract is not None:
        conditions.append(and_(a.c.entity == "contract", a.c.entity_id == contract))
    if customer is not None:
        theirs = select(c.c.id).where(
            c.c.customer_id == customer, *([] if project is None else [c.c.project_id == project])
        )
        conditions.append(
            or_(
                and_(a.c.entity == "account", a.c.entity_id == customer),
                and_(a.c.entity == "contract", a.c.entity_id.in_(theirs)),
            )
        )
    if since is not None:
        conditions.append(a.c.at >= since)
    return connection.execute(select(a).where(*conditions).order_by(a.c.at, a.c.id)).all()


def shown(field: str, value: str | None) -> str:
    """A stored value as people read it (money in tenge, nothing as a dash)."""
    if value is None:
        return "–"
    if field in MONEY_FIELDS and value.lstrip("-").isdigit():
        return format_money(int(value))
    return value


def as_dict(row: Any, zone: ZoneInfo) -> dict[str, Any]:
    entry = {name: getattr(row, name) for name in COLUMNS}
    entry["at"] = datetime.fromtimestamp(row.at / 1e6, zone).isoformat(timespec="seconds")
    return entry


def main(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_run(args, settings))


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    if problem := project_problem(settings, args.project, every_row_named=True):
        print(f"kassa24-console: {problem}", file=sys.stderr)
        return 2
    zone = time_zone(settings.timezone)
    since = None
    if args.since is not None:
        since = int(datetime.combine(args.since, time.min, zone).timestamp() * 1e6)
    store = Store(settings.database_url, project_id=settings.project_id)
    await open_store(store, settings)
    try:
        rows = await store.scan(
            lambda connection: history(
                connection, contract=args.contract, customer=args.customer, since=since, project=args.project
            )
        )
    finally:
        await store.close()
    entries = [as_dict(row, zone) for row in rows]
    if args.format == "json":
        sys.stdout.write(json.dumps(entries, ensure_ascii=False, indent=2) + "\n")  # a command's output
    elif args.format == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=list(COLUMNS))
        writer.writeheader()
        writer.writerows(entries)
    else:
        _table(entries)
    return 0


def _table(entries: list[dict[str, Any]]) -> None:
    table = Table(title=f"Audit: {len(entries)} change(s)", expand=False)
    for column in ("when", "kind", "who", "what", "change", "note / cause"):
        table.add_column(column, overflow="fold")
    for e in entries:
        change = f"{e['field']}: {shown(e['field'], e['old'])} → {shown(e['field'], e['new'])}"
        why = " · ".join(part for part in (e["note"], e["cause"]) if part)
        table.add_row(e["at"].replace("T", " "), e["kind"], e["actor"], f"{e['entity']} {e['entity_id']}", change, why)
    Console(width=None if sys.stdout.isatty() else 200).print(table)
