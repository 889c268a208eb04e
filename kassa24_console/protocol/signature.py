"""The platform's message signature (spec/platform.md §1).

HMAC-SHA512 over the sorted ``path:value`` entries of the body's scalar leaves, Base64.
The official SDKs disagree on the sort order (PHP: natural, Python: code point), so
verification accepts either and signing uses natural order.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

SKIPPED_KEYS = frozenset({"frame_mode"})
_DIGIT_RUN = re.compile(r"(\d+)")


def _scalar_text(value: Any) -> str:
    if value is True:
        return "1"
    if value is False:
        return "0"
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        # JSON text of the number, as the platform serialised it.
        return json.dumps(value)
    return str(value)


def _leaves(node: Any, prefix: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, Mapping):
        items = ((str(k), v) for k, v in node.items())
    elif isinstance(node, list):
        items = ((str(i), v) for i, v in enumerate(node))
    else:
        yield prefix, _scalar_text(node)
        return
    for key, value in items:
        if key in SKIPPED_KEYS:
            continue
        escaped = key.replace(":", "::")
        yield from _leaves(value, f"{prefix}:{escaped}" if prefix else escaped)


def _unsigned(body: Mapping[str, Any]) -> dict[str, Any]:
    """The body without its signature (top level, and ``general.signature``)."""
    rest = {k: v for k, v in body.items() if k != "signature"}
    general = rest.get("general")
    if isinstance(general, Mapping) and "signature" in general:
        rest["general"] = {k: v for k, v in general.items() if k != "signature"}
    return rest


def natural_key(text: str) -> tuple[Any, ...]:
    """Sort key comparing digit runs as numbers (``items:2`` before ``items:10``)."""
    parts = _DIGIT_RUN.split(text)
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts))


def string_to_sign(body: Mapping[str, Any], *, natural: bool = True) -> str:
    """The ``;``-joined, sorted entries that the HMAC covers."""
    leaves = list(_leaves(_unsigned(body), ""))
    # Sorted by key path; ties cannot occur (paths are unique).
    leaves.sort(key=(lambda leaf: natural_key(leaf[0])) if natural else (lambda leaf: leaf[0]))
    return ";".join(f"{path}:{value}" for path, value in leaves)


def _hmac(secret: str, text: str) -> str:
    digest = hmac.new(secret.encode(), text.encode("utf-8", "surrogatepass"), hashlib.sha512)
    return base64.b64encode(digest.digest()).decode("ascii")


def sign(body: Mapping[str, Any], secret: str) -> str:
    """Signature of ``body`` in natural order, as the simulator sends it."""
    return _hmac(secret, string_to_sign(body, natural=True))


def signed(body: Mapping[str, Any], secret: str) -> dict[str, Any]:
    """A copy of ``body`` carrying its signature."""
    return {**_unsigned(body), "signature": sign(body, secret)}


def verify(body: Mapping[str, Any], secret: str) -> bool:
    """True when ``body['signature']`` matches in natural or code-point order."""
    given = body.get("signature")
    general = body.get("general")
    if given is None and isinstance(general, Mapping):
        given = general.get("signature")
    if not isinstance(given, str) or not given:
        return False
    given_bytes = given.encode("utf-8", "surrogatepass")
    natural = string_to_sign(body, natural=True)
    codepoint = string_to_sign(body, natural=False)
    ok = hmac.compare_digest(_hmac(secret, natural).encode(), given_bytes)
    if codepoint != natural:
        # Both are computed whenever they differ, so timing does not tell which matched.
        ok |= hmac.compare_digest(_hmac(secret, codepoint).encode(), given_bytes)
    return ok
