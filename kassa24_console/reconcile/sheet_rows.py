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
from collections.abc import Iterable, Sequence
from datetime import date, time
from decimal import Decimal
from io import BytesIO
from typing import Any

from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE
from openpyxl.compat import safe_string
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import to_excel

_END = b"</sheetData>"
_NUMBERS = (date, time, Decimal, int)  # as openpyxl writes them: a serial number or a number
_REMEMBERED = 20_000  # texts whose XML is kept: a month's payment ids need not all be


def supported(sheet: Any) -> bool:
    """Whether ``sheet`` is a write-only sheet whose file this module can write rows into
    (openpyxl 3.1's layout: the rows are streamed to a temporary file named ``_writer.out``)."""
    return callable(getattr(sheet, "close", None)) and hasattr(sheet, "_writer") and not sheet.closed


def write(sheet: Any, rows: Iterable[Sequence[Any]], first: int) -> None:
    """Close ``sheet`` (whatever was appended to it written by openpyxl) and put ``rows``
    after its last row, numbered from ``first``. A value is None (no cell), a text, or a
    styled ``WriteOnlyCell`` holding a date, a time or a number (its style and format are
    the cell's); a row holding anything else is written by openpyxl."""
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
            _Rows(sheet).write(out, rows, first)
            out.write(end + tail)
        os.replace(rows_file, target)
    finally:
        if os.path.exists(rows_file):
            os.remove(rows_file)


class _Rows:
    def __init__(self, sheet: Any) -> None:
        self.sheet = sheet
        self.letters: list[str] = []
        self.numbers: dict[tuple[type, Any], str] = {}
        self.texts: dict[str, str | None] = {}  # the repeated ones (states, customers), up to a bound
        self.styles: dict[int, int] = {}  # the styled cells reused row after row: their style ids
        self.epoch = sheet.parent.epoch
        self.iso_dates = sheet.parent.iso_dates

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
        for letter, value in zip(self.letters, values, strict=False):
            if value is None:
                continue
            if type(value) is str:
                text = self.texts.get(value, "")
                if text == "":
                    text = self.text(value)
                    if len(self.texts) < _REMEMBERED:
                        self.texts[value] = text
                if text is None:
                    return None
                add(f'<c r="{letter}{index}" t="inlineStr"><is>{text}</is></c>')
                continue
            cell = getattr(value, "_value", None)
            style = self.styles.get(id(value))
            if style is None and getattr(value, "has_style", False):
                style = self.styles[id(value)] = value.style_id  # openpyxl looks it up anew each time
            kind = getattr(value, "data_type", None)
            if (
                style is None
                or type(cell) not in _NUMBERS
                or kind not in ("d", "n")
                or (kind == "d" and self.iso_dates)
            ):
                return None
            key = (type(cell), cell)
            number = self.numbers.get(key)
            if number is None:
                serial = to_excel(cell, self.epoch) if kind == "d" else cell
                number = self.numbers[key] = safe_string(serial)
            add(f'<c r="{letter}{index}" s="{style}" t="n"><v>{number}</v></c>')
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
            cells = self.sheet._values_to_row(list(values), index)
            WorksheetWriter.write_row(self.sheet._writer, xf, cells, index)
        return buffer.getvalue().decode("ascii")
