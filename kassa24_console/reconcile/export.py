"""What an accountant opens and keeps: one row per operation (XLSX or CSV) with every
finding's state and how it was settled.

CSV for Russian Excel by default: ``;`` between fields and amounts as exact decimals with a
comma (``1111,00``); ``1111.00`` with ``,`` or integer minor units on request; never a float.
XLSX: days and times as date cells, amounts as numbers in a money format, a frozen header
row with an autofilter, widths that fit; written in openpyxl's write-only mode, so a month
of operations streams to the file instead of building a workbook in memory.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from operator import itemgetter
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from ..i18n import N_, _
from ..money import decimal_text, to_major
from ..store import export_reads as reads
from ..store.export_reads import Correction, ExportOperation, PaymentFinding
from ..store.reconciliation import MismatchRow
from ..zones import LocalClock

EXPORT_SUFFIXES = (".xlsx", ".csv")
AMOUNT_FORMS = ("comma", "point", "minor")  # 1111,00 with ; · 1111.00 with , · 111100 with ;
MONEY_FORMAT = "#,##0.00"
# Header, width in characters (XLSX), and the cell format of date, time and money columns.
COLUMNS: tuple[tuple[str, int, str | None], ...] = (
    (N_("day"), 11, "yyyy-mm-dd"),
    (N_("time"), 9, "hh:mm:ss"),
    (N_("payment id"), 32, None),
    (N_("operation id"), 16, None),
    (N_("customer"), 14, None),
    (N_("contract"), 14, None),
    (N_("amount, KZT"), 15, MONEY_FORMAT),
    (N_("status (ours)"), 14, None),
    (N_("status (platform)"), 18, None),
    (N_("finding"), 22, None),
    (N_("finding state"), 14, None),
    (N_("note"), 48, None),
)
HEADER = tuple(name for name, _width, _format in COLUMNS)  # English: translated where written
_EPOCH = date(1970, 1, 1)  # LocalClock's day numbers count from it
_STATE_ORDER = ("open", "corrected", "resolved")  # a payment's findings: the least settled shows


def settlement(finding: PaymentFinding | MismatchRow, corrections: dict[str, list[Correction]]) -> tuple[str, str]:
    """How a finding was settled, as (state, what was done with the operator's note):
    ``open``; ``corrected`` (the deposit credited or closed by an operator); ``resolved``
    (by an operator with a note, or by reconciliation when the records came to agree)."""
    if finding.state == "open":
        return "open", finding.note or ""
    done = corrections.get(finding.payment_id or "", [])
    if done:
        return "corrected", "; ".join(_correction_text(c) for c in done)
    if finding.resolved_by == "reconcile":
        return "resolved", _("the records agree (closed by reconciliation)") + _with_note(finding.note, "no longer")
    who = finding.resolved_by or _("an operator")
    return "resolved", _("resolved by {who}: {note}").format(who=who, note=finding.note or "").rstrip(": ")


def _with_note(note: str | None, skip: str) -> str:
    return f" · {note}" if note and not note.startswith(skip) else ""


def _correction_text(row: Correction) -> str:
    if row.new == "paid":
        what = _("credited by {who} on {cause}").format(who=row.actor, cause=row.cause)
    else:
        what = _("closed by {who}").format(who=row.actor)
    return f"{what}: {row.note}" if row.note else what


def operation_rows(
    connection: Connection, start: int, end: int, zone: ZoneInfo, project: int, default: int
) -> list[tuple[Any, ...]]:
    """The project's deposits and platform operations of [start, end), matched by payment
    id, each with its findings: (moment, payment id, operation id, customer, contract, amount
    in minor units, ours, platform's, finding kinds, finding state, note). Rows that name no
    project are the first project's (``default``)."""
    deposits = {r.payment_id: r for r in reads.period_deposits(connection, start, end, project)}
    ops = reads.period_operations(connection, start, end, project, default)
    by_payment: dict[str, list[ExportOperation]] = {}
    for op in ops:
        by_payment.setdefault(op.payment_id, []).append(op)
    # The findings of our deposits of the period and of the platform's operations of it,
    # picked here: two IN-subqueries of a month's payment ids cost more than reading them all.
    theirs = {op.payment_id for op in ops if op.created_at is not None and start <= op.created_at < end}
    wanted = deposits.keys() | theirs
    found: dict[str, list[PaymentFinding]] = {}
    for row in reads.payment_findings(connection, project, default):
        if row.payment_id in wanted:
            found.setdefault(row.payment_id, []).append(row)
    corrections = reads.corrections_of(connection, found)
    none = ("", "", "")
    rows: list[tuple[Any, ...]] = []
    add = rows.append
    # Our deposits first, in the order read (by time: the sort below has little to do), each
    # with the platform's operations for it; then the operations we have no deposit for.
    for payment_id, deposit in deposits.items():
        findings = found.get(payment_id)
        kinds, state, note = _findings(findings, corrections) if findings else none
        at, customer, contract = deposit.created_at, deposit.customer_id or "", deposit.contract_id or ""
        theirs_of = by_payment.get(payment_id)
        if theirs_of is None:
            add((at, payment_id, "", customer, contract, deposit.amount, deposit.state, "", kinds, state, note))
            continue
        for op in theirs_of:
            add((at, payment_id, op.operation_id, customer, contract, deposit.amount, deposit.state, op.status,
                 kinds, state, note))  # fmt: skip
    for payment_id, theirs_of in by_payment.items():
        if payment_id in deposits:
            continue
        findings = found.get(payment_id)
        kinds, state, note = _findings(findings, corrections) if findings else none
        for op in theirs_of:
            add((op.created_at or 0, payment_id, op.operation_id, op.customer_id or "", "", op.amount or 0, "",
                 op.status, kinds, state, note))  # fmt: skip
    rows.sort(key=itemgetter(0, 1, 2))
    return rows


def _findings(findings: list[PaymentFinding], corrections: dict[str, list[Correction]]) -> tuple[str, str, str]:
    if not findings:
        return "", "", ""
    settled = [settlement(f, corrections) for f in findings]
    state = min((s for s, _text in settled), key=_STATE_ORDER.index)
    notes = dict.fromkeys(text for _state, text in settled if text)  # each once, in order
    return ", ".join(sorted({f.kind for f in findings})), state, " · ".join(notes)


def private(path: Path) -> None:
    """Make ``path`` (new or existing) readable by its owner only before payment data is
    written into it: an export holds customers, contracts and amounts."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    os.chmod(path, 0o600)


def write_operations(path: Path, rows: list[tuple[Any, ...]], zone: ZoneInfo, amounts: str = "comma") -> None:
    """``rows`` of :func:`operation_rows` to ``path`` (.csv or .xlsx), amounts as asked."""
    private(path)
    if path.suffix.lower() == ".csv":
        _write_csv(path, rows, zone, amounts)
    else:
        _write_xlsx(path, rows, zone)


def _write_csv(path: Path, rows: list[tuple[Any, ...]], zone: ZoneInfo, amounts: str) -> None:
    separator = "," if amounts == "point" else ";"
    local = LocalClock(zone).local
    days: dict[int, str] = {}  # local day number → 2026-11-30
    times: dict[int, str] = {}  # second of the day → 23:59:59
    texts: dict[int, str] = {}  # amounts repeat: each one's text is made once

    def lines() -> Iterator[tuple[Any, ...]]:
        # A row's fields by position (at, payment, operation, customer, contract, minor units,
        # ours, platform's, findings, state, note): a month is 100 000 of them.
        for row in rows:
            number, second = divmod(local(row[0]) // 1_000_000, 86_400)  # LocalClock.date_and_time's
            day = days.get(number)
            if day is None:
                day = days[number] = (_EPOCH + timedelta(days=number)).isoformat()
            moment = times.get(second)
            if moment is None:
                moment = times[second] = f"{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}"
            minor = row[5]
            amount = texts.get(minor)
            if amount is None:
                amount = texts[minor] = (
                    str(minor) if amounts == "minor" else decimal_text(minor, "." if amounts == "point" else ",")
                )
            yield (day, moment, row[1], row[2], row[3], row[4], amount, row[6], row[7], row[8], row[9], row[10])

    with path.open("w", newline="", encoding="utf-8-sig") as handle:  # Excel opens UTF-8 with a BOM
        writer = csv.writer(handle, delimiter=separator)
        header = [_(name) for name in HEADER]
        writer.writerow(header if amounts != "minor" else (*header[:6], _("amount, tiyn"), *header[7:]))
        writer.writerows(lines())


def _write_xlsx(path: Path, rows: list[tuple[Any, ...]], zone: ZoneInfo) -> None:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    from . import sheet_rows

    book = Workbook(write_only=True)
    sheet = book.create_sheet(_("Operations")[:31])
    for index, (_name, width, _format) in enumerate(COLUMNS, 1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for name in HEADER:
        cell = WriteOnlyCell(sheet, value=_(name))
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(COLUMNS))}{len(rows) + 1}"
    # One styled cell for each of the day, time and amount columns: their format is set once.
    day, moment, money = (WriteOnlyCell(sheet) for _cell in range(3))
    day.number_format, moment.number_format, money.number_format = COLUMNS[0][2], COLUMNS[1][2], MONEY_FORMAT
    styled = {0: day, 1: moment, 6: money}
    clock = LocalClock(zone)
    amounts: dict[int, Decimal] = {}

    def values() -> Iterator[list[Any]]:
        for at, *middle, minor, ours, platform, kinds, state, note in rows:
            amount = amounts.get(minor)
            if amount is None:
                amount = amounts[minor] = to_major(minor)
            # An empty text is no cell at all: openpyxl's cost is per cell written.
            yield [*clock.date_and_time(at), *(v or None for v in middle), amount, ours or None, platform or None,
                   kinds or None, state or None, note or None]  # fmt: skip

    if sheet_rows.supported(sheet):
        sheet_rows.write(sheet, values(), 2, styled)  # the rows as openpyxl writes them, in a fraction of the time
    else:
        for row in values():
            sheet.append(sheet_rows.cells(row, styled))
    book.save(path)
