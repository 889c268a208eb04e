"""Money at the edges: integer minor units in, text for people out."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from functools import lru_cache

from babel import Locale
from babel.numbers import format_currency, format_decimal

MINOR_DIGITS = 2
# Far above any real amount, far below what a 64-bit integer column holds.
LARGEST = Decimal(10) ** 15


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


def format_amount(minor: int | None, locale: str = "ru_KZ") -> str:
    """``150050`` → ``1 500,50``: an amount as the locale writes it, for a form's field
    (what the tables show, without the currency; :func:`parse_decimal` reads it back)."""
    if minor is None:
        return ""
    return format_decimal(to_major(minor), "#,##0.00", locale=_locale(locale)).replace("\u00a0", " ")


def plain(minor: int, currency: str = "KZT") -> str:
    """``100000`` → ``1000.00 KZT``: for protocol messages, which are ASCII."""
    return f"{to_major(minor):.2f} {currency}"


def decimal_text(minor: int, point: str = ",") -> str:
    """``111100`` → ``1111,00``: exact text of major units, never through a float."""
    sign, whole = ("-" if minor < 0 else ""), abs(minor)
    return f"{sign}{whole // 100}{point}{whole % 100:02d}"


def parse_decimal(text: str) -> Decimal:
    """An amount as people write it (``1 500,50``, ``1500.50``, ``15 000 ₸``) as a number;
    ``ValueError`` unless it is a finite one of sane size (``nan``, ``inf`` and ``1e30``
    parse as Decimals, and the last would overflow the database)."""
    cleaned = text.replace("\u00a0", "").replace(" ", "").replace("₸", "").replace(",", ".").strip()
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError("not an amount") from None
    if not value.is_finite() or abs(value) > LARGEST:
        raise ValueError("not an amount")
    return value


def whole_minor_units(value: Decimal, digits: int = MINOR_DIGITS) -> int | None:
    """``value`` (with ``digits`` decimals to spare) as integer minor units, or None when it
    has finer fractions than that."""
    scaled = value.scaleb(digits)
    return int(scaled) if scaled == scaled.to_integral_value() else None
