"""Text any database can hold: lone surrogates and NUL escaped, everything else as it came.

JSON lets a sender write ``"\\ud800"`` (a lone surrogate, which SQLite cannot encode) and
``"\\u0000"`` (NUL, which PostgreSQL refuses in text). Either, stored as it came, fails the
whole write it rides in. Escaped as the JSON text it arrived as, it is kept and readable.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

# A JSON escape that decodes to a surrogate or to NUL: the only way either enters a string
# that came from valid UTF-8.
_SUSPICIOUS = re.compile(rb"\\u(?:[dD][89a-fA-F]|0000)")


def storable(text: str) -> str:
    """``text`` with lone surrogates written ``\\udXXX`` and NUL written ``\\u0000``."""
    if "\x00" in text:
        text = text.replace("\x00", "\\u0000")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def may_need_escaping(raw: bytes) -> bool:
    """Whether a JSON body can hold text :func:`storable` would change (cheap, on bytes)."""
    return _SUSPICIOUS.search(raw) is not None


def storable_tree(value: Any) -> Any:
    """A parsed JSON value with every string (keys too) made :func:`storable`."""
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        return {storable(k): storable_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [storable_tree(v) for v in value]
    return value


def storable_row(row: dict[str, Any]) -> dict[str, Any]:
    """A row with each text column made :func:`storable` (JSON columns included)."""
    return {k: storable_tree(v) for k, v in row.items()}


KEPT_PREFIX = 512  # bytes of an unbelieved body that are kept


def abridged(raw: bytes) -> str:
    """A body nobody vouched for, as stored: whole when short, else a prefix, its size and
    its hash, so a flood of large forged bodies cannot grow the database."""
    if len(raw) <= KEPT_PREFIX:
        return storable(raw.decode("utf-8", "replace"))
    prefix = storable(raw[:KEPT_PREFIX].decode("utf-8", "replace"))
    return f"{prefix}… [{len(raw)} bytes, sha256 {hashlib.sha256(raw).hexdigest()}]"
