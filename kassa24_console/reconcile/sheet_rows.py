"""A month of rows into an openpyxl write-only sheet, byte for byte as openpyxl writes them,
at a fraction of its cost.

openpyxl makes a cell object and four lxml elements for every value it writes: a month's
export is a million cells, and that was two thirds of its time. Here openpyxl writes the
sheet (columns, frozen pane, header row, autofilter) and the workbook around it as always;
the data rows are written as the same XML text openpyxl would give them (inline strings,
non-ASCII as character references, dates, times and amounts as serial numbers with their
cell style) and put in its place in openpyxl's own sheet file before the workbook is saved.
A row with anything unusual in it (a text openpyxl would take for a formula or an error
code, a character a worksheet cannot hold, a value of another type) is written by
openpyxl itself, so it comes out (or is refused) exactly as before.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, time
from decimal import Decimal
from io import BytesIO
from typing import Any

from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE
from openpyxl.compat import safe_string
from openpyxl.styles.numbers import is_date_format
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import to_excel

_END = b"</sheetData>"
_NUMBERS = (date, time, Decimal, int)  # as openpyxl writes them: a serial number or a number
_REMEMBERED = 20_000  # texts whose XML is kept: a month's payment ids need not all be


def supported(sheet: Any) -> bool:
    """Whether ``sheet`` is a write-only sheet whose file this module can write rows into
    (openpyxl 3.1's layout: the rows are streamed to a temporary file named ``_writer.out``)."""
    return callable(getattr(sheet, "close", None)) and hasattr(sheet, "_writer") and not sheet.closed


def cells(values: Sequence[Any], styled: Mapping[int, Any]) -> list[Any]:
    """``values`` as openpyxl takes them: those of a ``styled`` column in its cell (reused)."""
    row = list(values)
    for column, cell in styled.items():
        if row[column] is not None:
            cell.value = row[column]
            row[column] = cell
    return row


def write(sheet: Any, rows: Iterable[Sequence[Any]], first: int, styled: Mapping[int, Any]) -> None:
    """Close ``sheet`` (whatever was appended to it written by openpyxl) and put ``rows``
    after its last row, numbered from ``first``. A value is None (no cell), a text, or, in
    a column (0-based) of ``styled``, a date, time or number written with that column's
    ``WriteOnlyCell``'s style, as if it held the value; a row holding anything else is
    written by openpyxl."""
    sheet.close()
    target = sheet._writer.out
    with open(target, "rb") as written:
        head, end, tail = written.read().rpartition(_END)
    if not end:
        raise RuntimeError("openpyxl's sheet has no <sheetData> to write rows into")
    rows_file = f"{target}.rows"
    try:
        with open(rows_file, "wb") as out:
            out.write(head)
            _Rows(sheet, styled).write(out, rows, first)
            out.write(end + tail)
        os.replace(rows_file, target)
    finally:
        if os.path.exists(rows_file):
            os.remove(rows_file)


class _Rows:
    def __init__(self, sheet: Any, styled: Mapping[int, Any]) -> None:
        self.sheet = sheet
        self.styled = styled
        self.letters: list[str] = []
        self.numbers: dict[tuple[type, Any], str] = {}
        self.texts: dict[str, str | None] = {}  # the repeated ones (states, customers), up to a bound
        self.epoch = sheet.parent.epoch
        # Each styled column: its style id, and whether dates keep its format (openpyxl gives
        # a date a date format of its own when the cell's is not one).
        self.styles = {
            column: (cell.style_id, is_date_format(cell.number_format) and not sheet.parent.iso_dates)
            for column, cell in styled.items()
            if cell.has_style
        }

    def write(self, out: Any, rows: Iterable[Sequence[Any]], first: int) -> None:
        chunk: list[str] = []
        for index, values in enumerate(rows, first):
            text = self.row(index, values)
            chunk.append(text if text is not None else self.by_openpyxl(index, values))
            if len(chunk) >= 2000:
                out.write("".join(chunk).encode("ascii"))
                chunk.clear()
        out.write("".join(chunk).encode("ascii"))

    def row(self, index: int, values: Sequence[Any]) -> str | None:
        """The row's XML as openpyxl writes it, or None when openpyxl must write it."""
        while len(self.letters) < len(values):
            self.letters.append(get_column_letter(len(self.letters) + 1))
        parts = [f'<row r="{index}">']
        add = parts.append
        styles = self.styles
        for column, value in enumerate(values):
            if value is None:
                continue
            kind = type(value)
            if column in styles:
                style, dates = styles[column]
                if kind not in _NUMBERS or (kind is not Decimal and kind is not int and not dates):
                    return None
                number = self.numbers.get((kind, value))
                if number is None:
                    serial = value if kind is Decimal or kind is int else to_excel(value, self.epoch)
                    number = self.numbers[(kind, value)] = safe_string(serial)
                add(f'<c r="{self.letters[column]}{index}" s="{style}" t="n"><v>{number}</v></c>')
                continue
            if kind is not str:
                return None
            text = self.texts.get(value, "")
            if text == "":
                text = self.text(value)
                if len(self.texts) < _REMEMBERED:
                    self.texts[value] = text
            if text is None:
                return None
            add(f'<c r="{self.letters[column]}{index}" t="inlineStr"><is>{text}</is></c>')
        add("</row>")
        return "".join(parts)

    @staticmethod
    def text(value: str) -> str | None:
        """``<t>…</t>`` of a text as openpyxl's lxml writes it; None for what openpyxl does
        not write as a plain text (a formula, an error code, too long, illegal characters)."""
        if (
            not value
            or len(value) > 32767
            or (len(value) > 1 and value[0] == "=")
            or value in ERROR_CODES
            or ILLEGAL_CHARACTERS_RE.search(value)
        ):
            return None
        escaped = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")
        escaped = escaped.encode("ascii", "xmlcharrefreplace").decode("ascii")
        return f'<t xml:space="preserve">{escaped}</t>' if value != value.strip() else f"<t>{escaped}</t>"

    def by_openpyxl(self, index: int, values: Sequence[Any]) -> str:
        """The row as openpyxl writes it (the same code as its own write-only sheet)."""
        from openpyxl.worksheet._writer import WorksheetWriter
        from openpyxl.xml.functions import xmlfile

        buffer = BytesIO()
        with xmlfile(buffer) as xf:
            row = self.sheet._values_to_row(cells(values, self.styled), index)
            WorksheetWriter.write_row(self.sheet._writer, xf, row, index)
        return buffer.getvalue().decode("ascii")
