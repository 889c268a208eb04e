"""Money, numbers and dates at the edges: integer minor units in, text for people out.

The one formatter every screen, table, summary, export and act uses: Babel's, in the
operator's locale (``i18n.current_locale``: ``180 750,00 ₸`` in ru and kk, ``KZT 180,750.00``
in en) unless a locale is named. Protocol messages are ASCII and use ``plain``."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal, format_percent

from .i18n import current_locale, money_locale

MINOR_DIGITS = 2
# Far above any real amount, far below what a 64-bit integer column holds.
LARGEST = Decimal(10) ** 15


def to_major(minor: int) -> Decimal:
    return Decimal(minor).scaleb(-MINOR_DIGITS)


@lru_cache(maxsize=8)
def _locale(name: str) -> Locale:
    return Locale.parse(name)  # parsing a locale costs more than formatting with it


def format_money(minor: int | None, currency: str = "KZT", locale: str | None = None) -> str:
    """``100000`` → ``1 000,00 ₸`` (Kazakhstan's own way of writing it) in the operator's
    locale, or in ``locale`` when given."""
    if minor is None:
        return ""
    return _money(minor, currency, locale or money_locale())


@lru_cache(maxsize=4096)
def _money(minor: int, currency: str, locale: str) -> str:
    """Amounts repeat (the same instalment, again and again), so answers are remembered."""
    return format_currency(to_major(minor), currency, locale=_locale(locale))


def format_amount(minor: int | None, locale: str = "ru_KZ") -> str:
    """``150050`` → ``1 500,50``: an amount as the locale writes it, for a form's field
    (what the tables show, without the currency; :func:`parse_decimal` reads it back)."""
    if minor is None:
        return ""
    return format_decimal(to_major(minor), "#,##0.00", locale=_locale(locale)).replace("\u00a0", " ")


def format_share(value: float, locale: str | None = None) -> str:
    """``0.5`` → ``50 %`` (ru, kk) or ``50%`` (en)."""
    return format_percent(value, locale=_locale(locale or current_locale()))


def format_day(day: date, locale: str | None = None) -> str:
    """A calendar day the way the locale writes it in a document (``1 марта 2026 г.``)."""
    return format_date(day, "long", locale=_locale(locale or current_locale()))


def format_moment(at_us: int, zone: ZoneInfo, locale: str | None = None) -> str:
    """A moment (microseconds since the epoch) in ``zone``, to the minute, in the locale's form."""
    moment = datetime.fromtimestamp(at_us / 1_000_000, zone)
    return format_datetime(moment, "short", tzinfo=zone, locale=_locale(locale or current_locale()))


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
