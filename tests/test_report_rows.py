"""A report's rows read the quick way (each word of a month made once) give what
``operation_from`` gives, value for value, or the same refusal."""

from __future__ import annotations

from typing import Any

import pytest

from kassa24_console.reconcile.report import _from_text, operation_from
from kassa24_console.zones import LocalClock, zone

ALMATY = zone("Asia/Almaty")
ROW = {
    "operation_id": " 900001 ",
    "payment_id": "k24_m1 ",
    "status": "success",
    "amount": "10 000,00",
    "currency": " kzt",
    "type": "sale",
    "method": " Kassa24 ",
    "project_id": " 1234 ",
    "customer_id": " 7000000001",
    "created": "2024-02-29 23:30:00",
    "completed": "2024-03-01 00:00:05",
}
CHANGES: list[dict[str, Any]] = [
    {},
    {"completed": "2024-02-29 23:30:00"},  # the same moment twice
    {"completed": None, "customer_id": "", "project_id": "x", "method": None, "type": None},
    {"project_id": "²"},  # a digit int() does not read: refused as before
    {"amount": "1,005", "project_id": "²"},  # two faults: the first one named, as before
    {"amount": "12.5.0"},
    {"created": "2024-13-01 00:00:00"},
    {"created": "01.03.2024"},
    {"currency": ""},
    {"operation_id": None, "status": ""},
]


def _outcome(read: Any) -> Any:
    try:
        return read()
    except ValueError as error:
        return f"refused: {error}"


@pytest.mark.parametrize("change", CHANGES)
def test_a_row_read_quickly_is_the_row(change: dict[str, Any]) -> None:
    values = {**ROW, **change}
    known: dict[Any, Any] = {}
    clock = LocalClock(ALMATY)
    for _twice in range(2):  # the second time from what the first remembered
        quick = _outcome(lambda: _from_text(dict(values), known, "major", "%Y-%m-%d %H:%M:%S", ALMATY, clock))
        plain = _outcome(
            lambda: operation_from(dict(values), unit="major", date_format="%Y-%m-%d %H:%M:%S", zone=ALMATY)
        )
        assert quick == plain
    if not change:
        assert plain.amount == 1_000_000 and plain.currency == "KZT" and plain.project_id == 1234


HEADER = (
    "Operation ID;Payment ID;Project ID;Operation type;Operation status;Amount;Currency;Customer ID;Created;Completed"
)
COLUMNS = {
    "operation_id": "Operation ID",
    "payment_id": "Payment ID",
    "project_id": "Project ID",
    "type": "Operation type",
    "status": "Operation status",
    "amount": "Amount",
    "currency": "Currency",
    "customer_id": "Customer ID",
    "created": "Created",
    "completed": "Completed",
}
LINES = [
    "1;k24_1;1234;Продажа;Успешно;10 000,00;KZT;700;2026-11-01 10:00:00;2026-11-01 10:00:00",
    "2;k24_2;1234;Продажа;Успешно;10 000,00;KZT;;2026-11-01 10:00:01;2026-11-01 10:00:09",  # words seen: quick
    "3;k24_3 ; 1234 ;Продажа;Успешно;10 000,00;kzt; 701 ;2026-11-01 10:00:02;",  # other word texts
    "3b; k24_3b ; 1234 ;Продажа;Успешно;10 000,00;kzt; 707 ;2026-11-01 10:00:02;",  # their words again: quick
    "4;k24_4;1234;Продажа;Успешно;10 000,00;KZT;702; 2026-11-01 10:00:03 ;2026-11-01 10:00:03",
    "5;k24_5;1234;Продажа;Успешно;10 000,00;KZT;703;2026-11-01 10:00:04;2026-11-01 10:00:04",
    "6;k24_6;1234;Продажа;Успешно;10 000,00;KZT",  # a short row: read field by field
    " ;k24_7;1234;Продажа;Успешно;10 000,00;KZT;704;2026-11-01 10:00:05;",
    "8;k24_8;1234;Продажа;Успешно;10 000,00;KZT;705;2026-03-15 00:30:00;2026-11-01 10:00:05",
]


def _read_both(path: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    from kassa24_console.reconcile import report

    def read() -> Any:
        try:
            return report.read_csv(
                path,
                COLUMNS,
                unit="major",
                date_format="%Y-%m-%d %H:%M:%S",
                timezone="Asia/Almaty",
                encoding="cp1251",
                statuses={"Успешно": "success"},
            )
        except report.ReportError as error:
            return f"refused: {error}"

    quick = read()
    with monkeypatch.context() as patch:
        patch.setattr(report._Quick, "read", lambda self, row: None)  # every row field by field, as before
        plain = read()
    return quick, plain


def test_a_report_read_quickly_is_the_report_read_field_by_field(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "month.csv"
    path.write_bytes(("\n".join([HEADER, *LINES]) + "\n").encode("cp1251"))
    quick, plain = _read_both(path, monkeypatch)
    assert quick == plain
    assert len(quick) == len(LINES) and quick[1].amount == 1_000_000 and quick[1].customer_id is None
    assert quick[1].completed_at - quick[1].created_at == 8_000_000 and quick[7].operation_id == ""
    assert (quick[3].payment_id, quick[3].customer_id, quick[3].currency) == ("k24_3b", "707", "KZT")


@pytest.mark.parametrize(
    "bad", ["2026-13-01 10:00:00", "01.11.2026 10:00", "2026-11-01 10:61:00", "2026-11-01T10:00:04"]
)
def test_a_bad_time_after_known_words_is_refused_as_before(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, bad: str
) -> None:
    path = tmp_path / "month.csv"
    rows = [HEADER, LINES[0], f"9;k24_9;1234;Продажа;Успешно;10 000,00;KZT;706;{bad};{bad}"]
    path.write_bytes(("\n".join(rows) + "\n").encode("cp1251"))
    quick, plain = _read_both(path, monkeypatch)
    assert quick == plain and str(quick).startswith("refused: ") and "line 3" in quick
