"""Amounts as people type them: one parser for the console's forms and the platform's reports."""

from __future__ import annotations

import pytest

from kassa24_console.edits import EditRejected, parse_major
from kassa24_console.money import format_money
from kassa24_console.reconcile.report import parse_amount


@pytest.mark.parametrize(
    ("text", "minor"),
    [("1 500,50", 150_050), ("1500.5", 150_050), ("15 000 ₸", 1_500_000), ("1\u00a0000,00", 100_000), ("0", 0)],
)
def test_written_amounts(text: str, minor: int) -> None:
    assert parse_major(text, "amount") == minor
    assert parse_amount(text, "major") == minor


@pytest.mark.parametrize("text", ["nan", "Infinity", "-inf", "abc", "1,2,3", "1e30"])
def test_what_is_not_an_amount_is_refused_not_raised(text: str) -> None:
    with pytest.raises(EditRejected, match="not an amount"):
        parse_major(text, "amount")
    with pytest.raises(ValueError, match="not an amount"):
        parse_amount(text, "major")


def test_precision_and_sign() -> None:
    with pytest.raises(EditRejected, match="at most 2 decimal places"):
        parse_major("1.001", "amount")
    with pytest.raises(EditRejected, match="cannot be negative"):
        parse_major("-1", "amount")
    assert parse_major("1e3", "amount") == 100_000
    assert parse_amount("12345", "minor") == 12345
    with pytest.raises(ValueError, match="minor units must be whole"):
        parse_amount("1.5", "minor")


def test_money_is_written_the_kazakh_way() -> None:
    assert format_money(100_000) == "1\u00a0000,00\u00a0₸"
    assert format_money(None) == ""
