"""The act of reconciliation (акт сверки / салыстыру актісі) of a signed period, as XLSX,
in the operator's language and the form an accountant in Kazakhstan signs: the title with
the period and both parties (the merchant's name from config, JetPay), both sides' records
day by day, the turnover totals, what a day carries to or from its neighbours across
midnight, every difference with how it was settled, the conclusion, and a signature block
for each party (position, name, signature, date). Printable on A4: page setup, the table's
header row repeated on every page, fitted to the page's width."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ..i18n import _
from ..money import format_day, format_moment, format_money, to_major
from ..store.export_reads import Correction
from ..store.reconciliation import MismatchRow, SignedPeriodRow
from .daily import Day
from .export import MONEY_FORMAT, private, settlement
from .period import Period
from .summary import Sides
from .words import kind_name, word

PLATFORM = "JetPay"
WIDTHS = (16, 12, 18, 12, 18, 18)  # date, ours (count, sum), platform (count, sum), difference


def write_act(
    path: Path,
    *,
    period: Period,
    signed: SignedPeriodRow,
    sides: Sides,
    days: list[Day],
    findings: list[MismatchRow],
    corrections: dict[str, list[Correction]],
    zone: ZoneInfo,
    merchant: str,
) -> None:
    private(path)
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = _("Act of reconciliation")[:31]
    _title(sheet, period, merchant)
    header_row = _records(sheet, days, sides, merchant)
    _differences(sheet, sides, findings, corrections)
    _conclusion(sheet, sides, findings, signed, zone)
    _signatures(sheet, merchant)
    _page_setup(sheet, header_row)
    book.save(path)


def _title(sheet: Any, period: Any, merchant: str) -> None:
    from openpyxl.styles import Alignment, Font

    first, last = format_day(period.first), format_day(period.last)
    lines = (
        _("Act of reconciliation of mutual settlements"),
        _("for the period from {first} to {last}").format(first=first, last=last),
        _("between {merchant} and {platform}").format(merchant=merchant, platform=PLATFORM),
        _("payments accepted at Kassa24 terminals"),
    )
    for number, text in enumerate(lines, start=1):
        sheet.append([text])
        sheet.merge_cells(start_row=number, start_column=1, end_row=number, end_column=len(WIDTHS))
        cell = sheet.cell(number, 1)
        cell.alignment = Alignment(horizontal="center", wrap_text=True)
        cell.font = Font(bold=number == 1, size=14 if number == 1 else 11)
    sheet.append([])


def _records(sheet: Any, days: list[Day], sides: Sides, merchant: str) -> int:
    """Both sides' records per day and the turnover totals; returns the header's row."""
    from openpyxl.styles import Alignment, Font

    sheet.append(
        [
            _("Date"),
            _("{party}: payments").format(party=merchant),
            _("{party}: sum, ₸").format(party=merchant),
            _("{party}: payments").format(party=PLATFORM),
            _("{party}: sum, ₸").format(party=PLATFORM),
            _("Difference, ₸"),
        ]
    )
    header = sheet.max_row
    for cell in sheet[header]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="center", horizontal="center")
    for day in days:
        _money_row(
            sheet,
            [format_day(day.day), day.ours_count, day.ours_sum, day.platform_count, day.platform_sum, day.difference],
            money=(2, 4, 5),
        )
    _money_row(
        sheet,
        [
            _("Turnover for the period"),
            sum(d.ours_count for d in days),
            sides.ours_paid,
            sum(d.platform_count for d in days),
            sides.platform_paid,
            sides.difference,
        ],
        money=(2, 4, 5),
    )
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)
    sheet.append([_("Matched"), sides.matched, _("of {count}").format(count=sides.compared)])
    return header


def _differences(
    sheet: Any, sides: Sides, findings: list[MismatchRow], corrections: dict[str, list[Correction]]
) -> None:
    from openpyxl.styles import Font

    if sides.carried:
        sheet.append([])
        sheet.append([_("Carried across midnight"), _("payment id"), _("sum, ₸"), _("day"), _("direction")])
        for item in sides.carried:
            what = "" if item.paid_as is None else _("retry, paid as {paid}").format(paid=item.paid_as)
            _money_row(sheet, [what, item.payment_id, item.amount, item.day, word(item.direction)], money=(2,))
        _money_row(sheet, [_("Difference after carried items, ₸"), sides.difference_after_carried], money=(1,))
    sheet.append([])
    sheet.append([_("Differences and how each was settled")])
    sheet.cell(sheet.max_row, 1).font = Font(bold=True)
    if not findings:
        sheet.append([_("none")])
        return
    sheet.append([_("kind"), _("payment id"), _("state"), _("how it was settled")])
    for finding in findings:
        state, how = settlement(finding, corrections)
        sheet.append([kind_name(finding.kind), finding.payment_id or "", word(state), how])


def _conclusion(sheet: Any, sides: Sides, findings: list[Any], signed: Any, zone: ZoneInfo) -> None:
    from openpyxl.styles import Alignment

    open_count = sum(1 for f in findings if f.state == "open")
    if sides.difference == 0 and not open_count:
        text = _("Conclusion: the turnover of both parties for the period agrees; there are no open differences.")
    else:
        text = _("Conclusion: the difference for the period is {sum}; open differences: {count}.").format(
            sum=format_money(sides.difference), count=open_count
        )
    sheet.append([])
    sheet.append([text])
    row = sheet.max_row
    sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=len(WIDTHS))
    sheet.cell(row, 1).alignment = Alignment(wrap_text=True)
    sheet.row_dimensions[row].height = 32
    at = format_moment(signed.signed_at, zone)
    sheet.append([_("Period signed off by {who} at {at}").format(who=signed.signed_by, at=at)])


def _signatures(sheet: Any, merchant: str) -> None:
    from openpyxl.styles import Font

    sheet.append([])
    sheet.append([_("From {party}").format(party=merchant), "", "", _("From {party}").format(party=PLATFORM)])
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)
    for label in (_("Position"), _("Name"), _("Signature"), _("Date")):
        sheet.append([label, "________________", "", label, "________________"])


def _page_setup(sheet: Any, header_row: int) -> None:
    """A4 portrait, fitted to one page wide, the table's header repeated on every page."""
    for number, width in enumerate(WIDTHS, start=1):
        sheet.column_dimensions[chr(ord("A") + number - 1)].width = width
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.orientation = "portrait"
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_title_rows = f"{header_row}:{header_row}"
    sheet.page_margins.left = sheet.page_margins.right = 0.5


def _money_row(sheet: Any, values: list[Any], money: tuple[int, ...]) -> None:
    """A row whose cells at ``money`` (0-based) are minor units, written as amounts."""
    row = [to_major(v) if i in money and isinstance(v, int) else v for i, v in enumerate(values)]
    sheet.append(row)
    for i in money:
        if i < len(row):
            sheet.cell(sheet.max_row, i + 1).number_format = MONEY_FORMAT
