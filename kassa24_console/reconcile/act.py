"""The act of reconciliation (акт сверки) of a signed period, as XLSX: both sides' totals,
the matching, what a day carries to or from its neighbours across midnight, and every
difference with how it was settled and the operator's note."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ..money import to_major
from .export import MONEY_FORMAT, private, settlement
from .summary import Sides


def write_act(
    path: Path,
    *,
    period: Any,
    signed: Any,
    sides: Sides,
    findings: list[Any],
    corrections: dict[str, list[Any]],
    zone: ZoneInfo,
) -> None:
    private(path)
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "Акт сверки"
    signed_at = datetime.fromtimestamp(signed.signed_at / 1e6, zone).strftime("%Y-%m-%d %H:%M")
    sheet.append(["Акт сверки взаиморасчётов / Act of reconciliation"])
    sheet.append(["Period", period.label])
    sheet.append(["Signed by", signed.signed_by, "at", signed_at])
    sheet.append([])
    sheet.append(["", "Ours (deposits paid)", "Platform (successful operations)", "Difference"])
    _money_row(sheet, ["Total, KZT", sides.ours_paid, sides.platform_paid, sides.difference])
    sheet.append(["Matched", sides.matched, sides.compared, f"{sides.match_rate:.1%}"])
    if sides.carried:
        sheet.append([])
        sheet.append(["Carried across midnight", "payment id", "amount, KZT", "day", "direction"])
        for item in sides.carried:
            _money_row(sheet, ["", item.payment_id, item.amount, item.day, item.direction], money=(2,))
        _money_row(sheet, ["Difference after carried items, KZT", sides.difference_after_carried])
    sheet.append([])
    sheet.append(["Differences", "payment id", "state", "how it was settled"])
    for finding in findings:
        state, how = settlement(finding, corrections)
        sheet.append([finding.kind, finding.payment_id or "", state, how])
    for column, width in zip("ABCDE", (34, 32, 30, 70, 12), strict=True):
        sheet.column_dimensions[column].width = width
    book.save(path)


def _money_row(sheet: Any, values: list[Any], money: tuple[int, ...] = (1, 2, 3)) -> None:
    """A row whose cells at ``money`` (0-based) are minor units, written as amounts."""
    row = [to_major(v) if i in money and isinstance(v, int) else v for i, v in enumerate(values)]
    sheet.append(row)
    for i in money:
        if i < len(row):
            sheet.cell(sheet.max_row, i + 1).number_format = MONEY_FORMAT
