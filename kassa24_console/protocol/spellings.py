"""How the official signers order entries and spell numbers (spec/platform.md §1).

Each order only permutes the entries of one body, and each number spelling is offered only
where its text holds exactly the value the body holds (a signer that rounds a float or
overflows an integer signed another value: it is refused, never guessed). So none of these
can make a second body sign like the first: the one-body rule of platform.md §1.

- PHP: ``ksort($flat, SORT_NATURAL)`` is ``strnatcmp`` over the whole path: leading zeros
  compare digit by digit (``n001 < n01 < n1``), runs of white space are skipped, ties keep
  the body's order. A float is written as PHP's ``(string)`` does (14 significant digits,
  ``1.5E-7``, ``1.0E+20``, ``-0``).
- JS: at each level ``Object.keys().sort()`` (UTF-16 code units) re-read through an object,
  which puts integer-like keys first in numeric order. A float is ``Number#toString``.
- Java: ``Double.toString`` (``1.0E20``, ``-0.0``, ``10.0``).
"""

from __future__ import annotations

import functools
import re
from typing import Any

# --- PHP strnatcmp ----------------------------------------------------------------------------


def _run_end(text: bytes, start: int) -> int:
    end = start
    while end < len(text) and text[end] in b"0123456789":
        end += 1
    return end


def _compare_digits(a: bytes, i: int, b: bytes, j: int) -> tuple[int, int, int]:
    """Compare the digit runs at ``a[i:]`` and ``b[j:]``: left-aligned when either starts
    with ``0`` (a fraction), else the longer run wins and then the first differing digit."""
    ai, bj = _run_end(a, i), _run_end(b, j)
    left, right = a[i:ai], b[j:bj]
    if left[:1] == b"0" or right[:1] == b"0":
        for x, y in zip(left, right, strict=False):
            if x != y:
                return (-1 if x < y else 1), ai, bj
        return (len(left) > len(right)) - (len(left) < len(right)), ai, bj
    if len(left) != len(right):
        return (-1 if len(left) < len(right) else 1), ai, bj
    return (left > right) - (left < right), ai, bj


def strnatcmp(first: str, second: str) -> int:
    """PHP's ``strnatcmp`` over the UTF-8 bytes (its ``SORT_NATURAL``)."""
    a, b = first.encode("utf-8", "surrogatepass"), second.encode("utf-8", "surrogatepass")
    if not a or not b:
        return (len(a) > len(b)) - (len(a) < len(b))
    i = j = 0
    # Leading zeros before a digit are skipped at the very start only.
    while i + 1 < len(a) and a[i] == 0x30 and a[i + 1] in b"0123456789":
        i += 1
    while j + 1 < len(b) and b[j] == 0x30 and b[j + 1] in b"0123456789":
        j += 1
    while True:
        while i < len(a) and a[i] in b" \t\n\v\f\r":
            i += 1
        while j < len(b) and b[j] in b" \t\n\v\f\r":
            j += 1
        ca, cb = a[i] if i < len(a) else 0, b[j] if j < len(b) else 0
        if 0x30 <= ca <= 0x39 and 0x30 <= cb <= 0x39:
            result, i, j = _compare_digits(a, i, b, j)
            if result or (i >= len(a) and j >= len(b)):
                return result
            if i >= len(a) or j >= len(b):
                return -1 if i >= len(a) else 1
            ca, cb = a[i], b[j]
        if ca != cb:
            return -1 if ca < cb else 1
        i, j = i + 1, j + 1
        if i >= len(a) and j >= len(b):
            return 0
        if i >= len(a) or j >= len(b):
            return -1 if i >= len(a) else 1


php_natural_key = functools.cmp_to_key(strnatcmp)


# --- JS object key order ------------------------------------------------------------------------

_ARRAY_INDEX = re.compile(r"0|[1-9][0-9]{0,9}")


def js_key(part: str) -> tuple[int, Any]:
    """Where a key lands when a JS object is iterated after ``sort()``: array indexes
    (canonical, below 2^32 - 1) first by value, then the rest by UTF-16 code units."""
    if _ARRAY_INDEX.fullmatch(part) and int(part) < 2**32 - 1:
        return (0, int(part))
    return (1, part.encode("utf-16-be", "surrogatepass"))


# --- number spellings -------------------------------------------------------------------------


def _holds(text: str, value: float) -> bool:
    """True when ``text`` reads back as exactly ``value`` (no rounding, no overflow)."""
    try:
        back = int(text) if re.fullmatch(r"-?\d+", text) else float(text)
    except ValueError:  # pragma: no cover - every spelling here is numeric
        return False
    return back == value


def _digits(value: float) -> tuple[str, int]:
    """The shortest round-trip digits of ``|value|`` and the exponent ``n`` such that
    ``|value| = 0.d1d2… × 10^n`` (as ECMAScript's Number#toString names them)."""
    shortest = repr(abs(value))
    if "e" in shortest:
        mantissa, _, exponent = shortest.partition("e")
        whole, _, fraction = mantissa.partition(".")
        return (whole + fraction).rstrip("0") or "0", int(exponent) + 1
    whole, _, fraction = shortest.partition(".")
    if whole != "0":
        return (whole + fraction).rstrip("0"), len(whole)
    significant = fraction.lstrip("0")
    return significant.rstrip("0"), -(len(fraction) - len(significant))


def js_number(value: float) -> str | None:
    if value == 0:
        return "0"
    digits, n = _digits(value)
    k, sign = len(digits), "-" if value < 0 else ""
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        text = "0." + "0" * -n + digits
    else:
        exponent = f"{'+' if n - 1 >= 0 else '-'}{abs(n - 1)}"
        text = (digits if k == 1 else digits[0] + "." + digits[1:]) + "e" + exponent
    text = sign + text
    return text if _holds(text, value) else None


def php_number(value: float) -> str | None:
    """PHP's ``(string)$float`` (``precision`` 14): None when 14 digits lose the value."""
    if value == 0:
        return "-0" if str(value).startswith("-") else "0"
    mantissa, _, exponent = f"{abs(value):.13e}".partition("e")
    digits = mantissa.replace(".", "").rstrip("0") or "0"
    point = int(exponent) + 1  # the decimal point's place after the first digit's
    sign = "-" if value < 0 else ""
    if point < -3 or point > 14:
        rest = digits[1:] or "0"
        e = point - 1
        text = f"{sign}{digits[0]}.{rest}E{'+' if e >= 0 else '-'}{abs(e)}"
    elif point <= 0:
        text = f"{sign}0.{'0' * -point}{digits}"
    elif point >= len(digits):
        text = sign + digits + "0" * (point - len(digits))
    else:
        text = f"{sign}{digits[:point]}.{digits[point:]}"
    return text if _holds(text, value) else None


def java_number(value: float) -> str | None:
    """Java's ``Double.toString`` (shortest digits, as JDK 19 and later)."""
    if value == 0:
        return "-0.0" if str(value).startswith("-") else "0.0"
    digits, n = _digits(value)
    sign = "-" if value < 0 else ""
    if 1e-3 <= abs(value) < 1e7:
        if n <= 0:
            text = "0." + "0" * -n + digits
        elif n >= len(digits):
            text = digits + "0" * (n - len(digits)) + ".0"
        else:
            text = digits[:n] + "." + digits[n:]
    else:
        text = f"{digits[0]}.{digits[1:] or '0'}E{n - 1}"
    text = sign + text
    return text if _holds(text, value) else None


def integral_number(value: float) -> str | None:
    """A float with no fraction written as an integer (``10.0`` → ``10``)."""
    return str(int(value)) if value.is_integer() and abs(value) < 1e16 else None


NUMBER_SPELLINGS = {
    "integral": integral_number,
    "php": php_number,
    "js": js_number,
    "java": java_number,
}
