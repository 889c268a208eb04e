"""Money at the edges: integer minor units in, text for people out."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

from babel import Locale
from babel.numbers import format_currency

MINOR_DIGITS = 2


def to_major(minor: int) -> Decimal:
    return Decimal(minor).scaleb(-MINOR_DIGITS)


@lru_cache(maxsize=8)
def _locale(name: str) -> Locale:
    return Locale.parse(name)  # parsing a locale costs more than formatting with it


@lru_cache(maxsize=4096)
def format_money(minor: int | None, currency: str = "KZT", locale: str = "ru_KZ") -> str:
    """``100000`` → ``1 000,00 ₸`` (Kazakhstan's own way of writing it). Amounts repeat
    (the same instalment, again and again), so answers are remembered."""
    if minor is None:
        return ""
    return format_currency(to_major(minor), currency, locale=_locale(locale))


def plain(minor: int, currency: str = "KZT") -> str:
    """``100000`` → ``1000.00 KZT``: for protocol messages, which are ASCII."""
    return f"{to_major(minor):.2f} {currency}"
