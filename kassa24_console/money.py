"""Money at the edges: integer minor units in, text for people out."""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import format_currency

MINOR_DIGITS = 2


def to_major(minor: int) -> Decimal:
    return Decimal(minor).scaleb(-MINOR_DIGITS)


def format_money(minor: int | None, currency: str = "KZT", locale: str = "ru_KZ") -> str:
    """``100000`` → ``1 000,00 ₸`` (Kazakhstan's own way of writing it)."""
    if minor is None:
        return ""
    return format_currency(to_major(minor), currency, locale=locale)


def plain(minor: int, currency: str = "KZT") -> str:
    """``100000`` → ``1000.00 KZT``: for protocol messages, which are ASCII."""
    return f"{to_major(minor):.2f} {currency}"
