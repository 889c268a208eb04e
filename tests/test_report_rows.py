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
