"""The export's rows written into openpyxl's sheet come out byte for byte as openpyxl itself
writes them: plain texts, texts that need escaping or character references, spaces kept,
texts openpyxl takes for formulas or error codes, numbers, dates, times and amounts with
their styles, rows with anything else (written by openpyxl) and a text a worksheet cannot
hold (refused the same way)."""

from __future__ import annotations

import zipfile
from datetime import date, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils.exceptions import IllegalCharacterError

from kassa24_console.reconcile import sheet_rows

TEXTS = [
    "k24_m00000001",
    "Продажа ₸ Төлем қабылданды",
    "a & b <c> \"d\" 'e'",
    " leading",
    "trailing ",
    "line\r\nbreak\tand tab",
    "=SUM(A1:A2)",
    "=",
    "#N/A",
    "😀 beyond the plane",
    "x" * 40_000,
]


def _book(rows: list[list[Any]], fast: bool, path: Path) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Операции")
    sheet.column_dimensions["A"].width = 11
    sheet.freeze_panes = "A2"
    title = WriteOnlyCell(sheet, value="день")
    title.font = Font(bold=True)
    sheet.append([title, "time"])
    sheet.auto_filter.ref = f"A1:G{len(rows) + 1}"
    day, moment, money = (WriteOnlyCell(sheet) for _cell in range(3))
    day.number_format, moment.number_format, money.number_format = "yyyy-mm-dd", "hh:mm:ss", "#,##0.00"

    if fast:
        assert sheet_rows.supported(sheet)
        values = ([when, clock, *rest, amount] for when, clock, amount, *rest in rows)
        sheet_rows.write(sheet, values, 2, {0: day, 1: moment, 6: money})
    else:  # as the export wrote them before: styled cells reused, openpyxl writing each
        for when, clock, amount, *rest in rows:
            day.value, moment.value, money.value = when, clock, amount
            sheet.append([day, moment, *rest, money])
    book.save(path)
    with zipfile.ZipFile(path) as saved:
        return saved.read("xl/worksheets/sheet1.xml")


def test_rows_are_what_openpyxl_writes(tmp_path: Path) -> None:
    rows: list[list[Any]] = []
    for i, text in enumerate(TEXTS * 3):
        rows.append([date(2026, 11, 1 + i % 28), time(i % 24, i % 60, 59), Decimal(i * 1001).scaleb(-2), text, None,
                     "paid" if i % 2 else None, text.upper()])  # fmt: skip
    rows.append([date(2024, 3, 1), time(0, 0, 0), Decimal("0.07"), 5, 2.5, "", None])  # other types: openpyxl's
    rows.append([date(1900, 1, 1), time(23, 59, 59), Decimal(-100), None, None, None, None])
    theirs = _book(rows, False, tmp_path / "openpyxl.xlsx")
    ours = _book(rows, True, tmp_path / "fast.xlsx")
    assert b"&#1055;" in ours and b"xml:space" in ours and b"<f>SUM(A1:A2)</f>" in ours  # the cases were there
    assert ours == theirs
    sheet = load_workbook(tmp_path / "fast.xlsx").active
    assert sheet["A2"].value.date() == date(2026, 11, 1) and sheet["A2"].number_format == "yyyy-mm-dd"
    assert sheet["G3"].value == 10.01 and sheet["G3"].number_format == "#,##0.00"
    assert sheet["C3"].value == TEXTS[1]


def test_a_text_a_worksheet_cannot_hold_is_refused_as_before(tmp_path: Path) -> None:
    rows = [[date(2026, 11, 1), time(1, 2, 3), Decimal(1), "bell\x07", None, None, None]]
    with pytest.raises(IllegalCharacterError):
        _book(rows, False, tmp_path / "openpyxl.xlsx")
    with pytest.raises(IllegalCharacterError):
        _book(rows, True, tmp_path / "fast.xlsx")
