"""What an accountant opens: one row per operation (XLSX or CSV), and the act of
reconciliation (акт сверки) of a signed period."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, and_, or_, select

from ..money import to_major
from ..store import queries as q
from .summary import Sides

EXPORT_SUFFIXES = (".xlsx", ".csv")
COLUMNS = (
    "day",
    "time",
    "payment id",
    "operation id",
    "customer",
    "contract",
    "amount, KZT",
    "status (ours)",
    "status (platform)",
    "mismatch",
    "note",
)


def operation_rows(connection: Connection, start: int, end: int, zone: ZoneInfo) -> list[list[Any]]:
    """Our deposits and the platform's operations of [start, end), matched by payment id."""
    d, o, m = q.deposits, q.operations, q.mismatches
    in_period = select(d).where(d.c.created_at >= start, d.c.created_at < end)
    deposits = {r.payment_id: r for r in connection.execute(in_period)}
    ops = connection.execute(
        select(o).where(or_(and_(o.c.created_at >= start, o.c.created_at < end), o.c.payment_id.in_(list(deposits))))
    ).all()
    by_payment: dict[str, list[Any]] = {}
    for op in ops:
        by_payment.setdefault(op.payment_id, []).append(op)
    ids = set(deposits) | set(by_payment)
    found: dict[str, list[Any]] = {}
    if ids:
        for row in connection.execute(select(m).where(m.c.payment_id.in_(list(ids)))):
            found.setdefault(row.payment_id, []).append(row)
    rows = []
    for payment_id in sorted(ids, key=lambda p: _when(deposits.get(p), by_payment.get(p))):
        deposit, platform = deposits.get(payment_id), by_payment.get(payment_id) or [None]
        for op in platform:
            moment = datetime.fromtimestamp(_when(deposit, [op] if op else None) / 1e6, zone)
            issues = found.get(payment_id, [])
            rows.append(
                [
                    moment.date().isoformat(),
                    moment.strftime("%H:%M:%S"),
                    payment_id,
                    op.operation_id if op else "",
                    (deposit.customer_id if deposit else op.customer_id) or "",
                    (deposit.contract_id if deposit else "") or "",
                    float(to_major(deposit.amount if deposit else op.amount or 0)),
                    deposit.state if deposit else "",
                    op.status if op else "",
                    ", ".join(sorted({i.kind for i in issues})),
                    " · ".join(i.note for i in issues if i.note),
                ]
            )
    return rows


def _when(deposit: Any, ops: list[Any] | None) -> int:
    if deposit is not None:
        return deposit.created_at
    return next((op.created_at for op in ops or [] if op is not None and op.created_at), 0)


def write_operations(path: Path, rows: list[list[Any]], title: str) -> None:
    if path.suffix.lower() == ".csv":
        with path.open("w", newline="", encoding="utf-8-sig") as handle:  # Excel opens UTF-8 with a BOM
            writer = csv.writer(handle, delimiter=";")
            writer.writerow(COLUMNS)
            writer.writerows(rows)
        return
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "Operations"
    sheet.append([title])
    sheet.append(list(COLUMNS))
    for row in rows:
        sheet.append(row)
    for cell in sheet["G"][2:]:
        cell.number_format = "#,##0.00"
    book.save(path)


def write_act(path: Path, *, period: Any, signed: Any, sides: Sides, findings: list[Any], zone: ZoneInfo) -> None:
    """The act of reconciliation (акт сверки) of a signed period, as XLSX."""
    from openpyxl import Workbook

    def money(minor: int) -> float:
        return float(to_major(minor))

    book = Workbook()
    sheet = book.active
    sheet.title = "Акт сверки"
    signed_at = datetime.fromtimestamp(signed.signed_at / 1e6, zone).strftime("%Y-%m-%d %H:%M")
    sheet.append(["Акт сверки взаиморасчётов / Act of reconciliation"])
    sheet.append(["Period", period.label])
    sheet.append(["Signed by", signed.signed_by, "at", signed_at])
    sheet.append([])
    sheet.append(["", "Ours (deposits paid)", "Platform (successful operations)", "Difference"])
    sheet.append(["Total, KZT", money(sides.ours_paid), money(sides.platform_paid), money(sides.difference)])
    sheet.append(["Matched", sides.matched, sides.compared, f"{sides.match_rate:.1%}"])
    sheet.append([])
    sheet.append(["Differences", "payment id", "state", "settled by", "note"])
    for finding in findings:
        sheet.append([finding.kind, finding.payment_id or "", finding.state, finding.resolved_by or "", finding.note])
    book.save(path)
