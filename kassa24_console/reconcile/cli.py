"""``kassa24-console reconcile``: import the platform's record, compare, work the list."""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from .. import edits
from ..config import Settings
from ..money import plain
from ..runtime import open_store
from ..store import Store
from ..store import queries as q
from .data_api import DataApi, DataApiError
from .engine import Period, SignOffRefused, reconcile, sign_off, store_operations
from .report import ReportError, read_csv


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--report",
        type=Path,
        action="append",
        default=[],
        metavar="FILE.csv",
        help="a Dashboard CSV export (columns mapped by report_columns in the config)",
    )
    parser.add_argument("--data-api", action="store_true", help="fetch the period from the platform's Data API")
    parser.add_argument("--from", dest="first", type=date.fromisoformat, help="first day, YYYY-MM-DD (default today)")
    parser.add_argument("--to", dest="last", type=date.fromisoformat, help="last day, inclusive (default: --from)")
    parser.add_argument("--format", choices=["table", "json", "csv"], default="table")
    parser.add_argument("--resolve", type=int, metavar="ID", help="resolve mismatch ID (with --note)")
    parser.add_argument("--reopen", type=int, metavar="ID", help="reopen mismatch ID")
    parser.add_argument("--note", default="", help="what was done about it")
    parser.add_argument("--sign-off", action="store_true", help="sign the period off (only when nothing is open)")


def main(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_run(args, settings))


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    out, err = Console(soft_wrap=True), Console(stderr=True, soft_wrap=True)
    zone = ZoneInfo(settings.timezone)
    first = args.first or datetime.now(zone).date()
    period = Period.of_days(first, args.last or first, zone)
    try:
        reports = [
            read_csv(
                path,
                settings.report_columns,
                unit=settings.report_amount_unit,
                date_format=settings.report_date_format,
                timezone=settings.report_timezone,
            )
            for path in args.report
        ]
    except ReportError as error:
        err.print(f"report refused, nothing applied: {error}", markup=False, highlight=False)
        return 2
    store = Store(settings.database_url)
    await open_store(store, settings)
    try:
        for path, operations in zip(args.report, reports, strict=True):
            await store_operations(store, operations, f"csv:{path.name}")
        if args.data_api:
            await store_operations(store, await _fetch(settings, period), "data-api")
        if args.resolve is not None or args.reopen is not None:
            return await _work(store, args, out, err)
        summary = await reconcile(store, settings, period)
        rows = await store.scan(_open_rows, summary.open_ids)
        _print(args.format, period, summary.by_kind(), rows, out)
        if args.sign_off:
            await sign_off(store, period)
            out.print(f"period {period.label} signed off", highlight=False)
        return 1 if rows else 0
    except DataApiError as error:
        err.print(f"Data API: {error}; nothing applied", markup=False, highlight=False)
        return 2
    except SignOffRefused as error:
        err.print(f"sign-off refused: {error}", markup=False, highlight=False)
        return 1
    except edits.EditRejected as error:
        err.print(str(error), markup=False, highlight=False)
        return 2
    finally:
        await store.close()


async def _fetch(settings: Settings, period: Period) -> list[Any]:
    if settings.data_api_token is None or settings.data_api_secret is None:
        raise DataApiError("set KASSA24_DATA_API_TOKEN and KASSA24_DATA_API_SECRET")
    zone = ZoneInfo(settings.timezone)
    api = DataApi(
        base_url=settings.data_api_url,
        token=settings.data_api_token.get_secret_value(),
        secret=settings.data_api_secret.get_secret_value(),
        keys=settings.data_api_keys,
        fields=settings.data_api_fields,
        timeout=settings.data_api_timeout,
        amount_unit=settings.data_api_amount_unit,
        timezone=settings.timezone,
        project_id=settings.project_id,
    )
    start = datetime.fromtimestamp(period.start / 1e6, zone).replace(tzinfo=None)
    end = datetime.fromtimestamp(period.end / 1e6, zone).replace(tzinfo=None)
    return await api.operations(start, end)


async def _work(store: Store, args: argparse.Namespace, out: Console, err: Console) -> int:
    reopen = args.reopen is not None
    target = args.reopen if reopen else args.resolve
    await edits.resolve_mismatch(store, target, args.note, reopen=reopen)
    out.print(f"mismatch {target} {'reopened' if reopen else 'resolved'}", highlight=False)
    return 0


def _open_rows(connection: Any, ids: list[int]) -> list[Any]:
    if not ids:
        return []
    m = q.mismatches
    return connection.execute(select(m).where(m.c.id.in_(ids)).order_by(m.c.id)).all()


def _print(fmt: str, period: Period, by_kind: dict[str, tuple[int, int]], rows: list[Any], out: Console) -> None:
    if fmt == "json":
        print(
            json.dumps(
                {
                    "period": period.label,
                    "found": {k: {"count": c, "sum": s} for k, (c, s) in sorted(by_kind.items())},
                    "open": [
                        {
                            "id": r.id,
                            "kind": r.kind,
                            "payment_id": r.payment_id,
                            "evidence": r.evidence,
                            "action": r.action,
                        }
                        for r in rows
                    ],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    if fmt == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(["id", "kind", "payment_id", "state", "evidence", "action"])
        for r in rows:
            writer.writerow(
                [r.id, r.kind, r.payment_id or "", r.state, json.dumps(r.evidence, ensure_ascii=False), r.action]
            )
        return
    table = Table(title=f"Reconciliation {period.label}: {sum(c for c, _ in by_kind.values())} found, {len(rows)} open")
    table.add_column("kind")
    table.add_column("count", justify="right")
    table.add_column("amount involved", justify="right")
    for kind, (count, total) in sorted(by_kind.items()):
        table.add_row(kind, str(count), plain(total))
    out.print(table)
    for r in rows:
        out.print(
            f"#{r.id} {r.kind} {r.payment_id or ''}: {json.dumps(r.evidence, ensure_ascii=False)}",
            markup=False,
            highlight=False,
        )
        out.print(f"    → {r.action}", markup=False, highlight=False, style="dim")
