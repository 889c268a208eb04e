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
import re
import sys
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table
from sqlalchemy import Connection, and_, or_, select

from .config import Settings
from .i18n import N_, _, ngettext
from .money import format_money
from .projects import project_problem
from .reconcile.words import word
from .runtime import open_store
from .store import Store
from .store import queries as q
from .zones import zone as time_zone

MONEY_FIELDS = frozenset({"payment", "min_payment", "credit"})
COLUMNS = ("at", "kind", "actor", "entity", "entity_id", "field", "old", "new", "note", "cause")
# The stored keys of the history (English in the database, --json and --format csv) as a
# person reads them in the table and the console.
KINDS = {
    "edit": N_("edit"),
    "payment": N_("payment"),
    "import": N_("import"),
    "resolve": N_("resolve"),
    "reopen": N_("reopen"),
    "sign_off": N_("sign-off"),
    "correction": N_("correction"),
    "acknowledge": N_("acknowledge"),
}
FIELDS = {
    "payment": N_("amount due"),
    "min_payment": N_("minimum payment"),
    "credit": N_("credit balance"),
    "status_code": N_("status code"),
    "status_text": N_("status text"),
    "state": N_("state"),
    "created": N_("created"),
    "name": N_("name"),
    "number": N_("number"),
    "customer_id": N_("customer"),
    "additional_customer_id": N_("additional id"),
    "info": N_("info"),
    "rows": N_("rows"),
    "signed_off": N_("signed off"),
    "acked": N_("acknowledged"),
}
ENTITIES = {
    "contract": N_("contract"),
    "account": N_("account"),
    "deposit": N_("payment"),
    "mismatch": N_("mismatch"),
    "period": N_("period"),
    "import": N_("import"),
    "alert": N_("alert"),
}
# Who, when it is the program itself (an operator is named by their login).
ACTORS = {
    "platform": N_("platform"),
    "reconcile": N_("reconciliation"),
    "demo": N_("demo data"),
    "simulator": N_("simulator"),
}
# Notes the program itself writes (an operator's own note is shown as written).
NOTES = (N_("the evidence changed"), N_("no longer found by reconciliation"))
_IMPORTED = re.compile(r"(\d+) accounts, (\d+) contracts")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--contract", metavar="ID", help=_("one contract's history"))
    parser.add_argument("--customer", metavar="ID", help=_("an account and all its contracts"))
    parser.add_argument("--since", type=date.fromisoformat, metavar="DAY", help=_("from this day on (YYYY-MM-DD)"))
    parser.add_argument("--project", type=int, metavar="ID", help=_("one project's history (default: all)"))
    parser.add_argument("--format", choices=["table", "json", "csv"], default="table", help=_("how to print"))


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
    """A stored value as people read it (money in tenge, a state in words, nothing as a dash)."""
    if value is None:
        return "–"
    if field in MONEY_FIELDS and value.lstrip("-").isdigit():
        return format_money(int(value))
    if field == "state":
        return word(value)
    if field == "acked" and value == "yes":
        return _("yes")
    if field == "rows" and (counted := _IMPORTED.fullmatch(value)):
        accounts, contracts = int(counted[1]), int(counted[2])
        return ", ".join(
            (
                ngettext("{n} account", "{n} accounts", accounts).format(n=accounts),
                ngettext("{n} contract", "{n} contracts", contracts).format(n=contracts),
            )
        )
    return value


def _named(words: dict[str, str], key: str) -> str:
    """``key`` in the operator's words; in English (no translation) the stored key itself, as
    ``--format json`` and ``csv`` name it."""
    if key not in words:
        return key
    translated = _(words[key])
    return key if translated == words[key] else translated


def audit_kind(kind: str) -> str:
    """A kind of history in the operator's words (``edit`` → ``правка``)."""
    return _named(KINDS, kind)


def field_word(field: str) -> str:
    return _named(FIELDS, field)


def entity_word(entity: str) -> str:
    return _named(ENTITIES, entity)


def actor_word(actor: str | None) -> str:
    """``platform`` (a callback credited it) → ``платформа``; a person's login as it is."""
    return _named(ACTORS, actor or "")


def note_text(note: str | None) -> str:
    """A note as written; one the program wrote, in the operator's language."""
    return _(note) if note in NOTES else (note or "")


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
    columns = list(COLUMNS)
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
