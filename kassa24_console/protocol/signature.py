"""The platform's message signature (spec/platform.md §1), as every official signer makes it.

HMAC-SHA512 over the sorted ``path:value`` entries of the body's scalar leaves, Base64.
The official SDKs disagree in details (tests/data/sdk-vectors.json shows each): the sort
order (PHP natural, Python code point, Go and Java whole ``path:value`` strings, JS level by
level), how a number is spelled (``10.0`` or ``10``, ``1.5E-7``, ``1.0E20``; see
:mod:`.spellings`), how null is written (empty, or ``None`` in ecommpay-sdk 1.0.6), and
whether a nested ``signature`` key is stripped (the SDKs' Callback classes do).

One signature, one body (platform.md §1): a form is tried only where it cannot make a second
body, saying something else, sign alike. So ``:`` inside a key is always escaped (a signer
that does not escape it is refused for that body: an unescaped key ``payment:id`` would let
a callback signed for one payment credit another), ``None`` for null only while no value
holds the text ``None``, the reordering forms only while no key or value holds ``;``, and a
number's spelling only where it holds exactly the body's value.

Verification tries the spec's form first and the others lazily, and only those that differ
from every string already tried: an ordinary body has one form, so a forged one costs one
HMAC; only a body with the features that make signers disagree costs more (and it is
bounded by the parser's structural limits). Signing (the simulator) uses the spec's form.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from kassa24_console.i18n import N_
from kassa24_console.protocol.spellings import NUMBER_SPELLINGS, js_key, php_natural_key

SKIPPED_KEYS = frozenset({"frame_mode"})
_DIGIT_RUN = re.compile(r"(\d+)")

Path = tuple[str, ...]


def natural_key(text: str) -> tuple[Any, ...]:
    """Sort key comparing digit runs as numbers (``items:2`` before ``items:10``)."""
    parts = _DIGIT_RUN.split(text)
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts))


def _unsigned(body: Mapping[str, Any]) -> dict[str, Any]:
    """The body without its signature (top level, and ``general.signature``)."""
    rest = {k: v for k, v in body.items() if k != "signature"}
    general = rest.get("general")
    if isinstance(general, Mapping) and "signature" in general:
        rest["general"] = {k: v for k, v in general.items() if k != "signature"}
    return rest


# A leaf: its path (keys and list indexes as text), which parts are list indexes, its value.
Leaf = tuple[Path, tuple[bool, ...], Any]


class _Walk:
    """One pass over the body: the leaves, and what makes signers disagree about them."""

    def __init__(self) -> None:
        self.leaves: list[Leaf] = []
        self.keys: set[str] = set()
        self.has_list = self.has_null = self.has_float = self.has_nested_signature = False
        self.has_none_text = self.has_semicolon = False

    def visit(self, node: Any, path: Path, in_list: tuple[bool, ...]) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                if key in SKIPPED_KEYS:
                    continue
                key = str(key)
                self.keys.add(key)
                self.has_semicolon = self.has_semicolon or ";" in key
                if key == "signature" and path:
                    self.has_nested_signature = True
                self.visit(value, (*path, key), (*in_list, False))
        elif isinstance(node, list):
            self.has_list = self.has_list or bool(node)
            for index, value in enumerate(node):
                self.visit(value, (*path, str(index)), (*in_list, True))
        else:
            if node is None:
                self.has_null = True
            elif isinstance(node, float):
                self.has_float = True
            elif isinstance(node, str):
                self.has_none_text = self.has_none_text or "None" in node
                self.has_semicolon = self.has_semicolon or ";" in node
            self.leaves.append((path, in_list, node))


class _Unspellable(Exception):
    """A signer's spelling of a number would not hold the body's value: no such form."""


def _float_text(value: float, numbers: str) -> str:
    if numbers == "json":
        return repr(value)
    text = NUMBER_SPELLINGS[numbers](value)
    if text is None:
        raise _Unspellable(numbers)
    return text


def _value_text(value: Any, *, null: str, numbers: str = "json") -> str:
    if value is True:
        return "1"
    if value is False:
        return "0"
    if value is None:
        return null
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return _float_text(value, numbers)
    return str(value)


# --- orders ------------------------------------------------------------------------------

Entry = tuple[Leaf, str, str]  # leaf, path text, value text


def _by_natural(entries: list[Entry]) -> list[Entry]:
    return sorted(entries, key=lambda e: natural_key(e[1]))


def _by_code_point(entries: list[Entry]) -> list[Entry]:
    return sorted(entries, key=lambda e: e[1])


def _by_whole_string(entries: list[Entry]) -> list[Entry]:
    return sorted(entries, key=lambda e: f"{e[1]}:{e[2]}")


def _by_level(entries: list[Entry]) -> list[Entry]:
    """JS: object keys sorted at each level, list items in index order. (A level is a list
    or an object, never both, so ints and strings are never compared.)"""

    def key(entry: Entry) -> tuple[Any, ...]:
        path, in_list, _ = entry[0]
        return tuple(int(p) if i else p for p, i in zip(path, in_list, strict=True))

    return sorted(entries, key=key)


def _by_php_natural(entries: list[Entry]) -> list[Entry]:
    """PHP's own ``SORT_NATURAL`` (leading zeros, runs of white space): see spellings."""
    return sorted(entries, key=lambda e: php_natural_key(e[1]))


def _by_js(entries: list[Entry]) -> list[Entry]:
    """The JS signer: at each level integer-like keys first, the rest in UTF-16 order."""
    return sorted(entries, key=lambda e: tuple(js_key(p) for p in e[0][0]))


ORDERS: dict[str, Callable[[list[Entry]], list[Entry]]] = {
    "natural": _by_natural,
    "code-point": _by_code_point,
    "whole-string": _by_whole_string,
    "level-by-level": _by_level,
    "php-natural": _by_php_natural,
    "js": _by_js,
}
_SAFE_ORDERS = ("natural", "code-point")  # the spec's two: tried whatever the body holds


@dataclass(frozen=True)
class Variant:
    """One way of writing the entries, named for the report (``natural``,
    ``code-point+integral-floats``, …)."""

    order: str = "natural"
    null: str = ""
    numbers: str = "json"
    strip_nested_signature: bool = False

    @property
    def name(self) -> str:
        extras = [
            "null-as-None" if self.null else "",
            "integral-floats" if self.numbers == "integral" else "",
            f"{self.numbers}-numbers" if self.numbers not in ("json", "integral") else "",
            "nested-signature-stripped" if self.strip_nested_signature else "",
        ]
        return "+".join([self.order, *[e for e in extras if e]])


SPEC_FORM = Variant()
_SPEC_NAME = SPEC_FORM.name


class Canonical:
    """A body's leaves, flattened once; strings to sign in any variant on demand."""

    def __init__(self, body: Mapping[str, Any]) -> None:
        walk = _Walk()
        walk.visit(_unsigned(body), (), ())
        self.leaves = walk.leaves
        self.has_colon_keys = any(":" in key for key in walk.keys)
        self.has_null = walk.has_null
        self.has_float = walk.has_float
        self.has_nested_signature = walk.has_nested_signature
        # What would make a non-spec form ambiguous (the module's docstring).
        self.none_as_text_is_safe = walk.has_null and not walk.has_none_text
        self.reordering_is_safe = not walk.has_semicolon
        # Natural and code-point order differ only where a path holds digits.
        self.has_digits = walk.has_list or bool(_DIGIT_RUN.search("".join(walk.keys)))

    def entries(self, variant: Variant) -> list[Entry]:
        entries: list[Entry] = []
        escape = self.has_colon_keys
        for leaf in self.leaves:
            path, _, value = leaf
            if variant.strip_nested_signature and "signature" in path[1:]:
                continue
            text = ":".join([p.replace(":", "::") for p in path] if escape else path)
            if isinstance(value, str):
                entries.append((leaf, text, value))
            else:
                entries.append((leaf, text, _value_text(value, null=variant.null, numbers=variant.numbers)))
        return entries

    def text(self, variant: Variant) -> str:
        return _join(ORDERS[variant.order](self.entries(variant)))

    def candidates(self) -> Iterator[tuple[Variant, str]]:
        """(variant, string) pairs, the spec's form first, each string once; only the
        dimensions this body can differ in, and only the forms that keep one signature
        to one body, are explored."""
        nulls = ("", "None") if self.none_as_text_is_safe else ("",)
        numbers = ("json", *NUMBER_SPELLINGS) if self.has_float else ("json",)
        nested = (False, True) if self.has_nested_signature else (False,)
        orders = ORDERS if self.reordering_is_safe else _SAFE_ORDERS
        seen: set[str] = set()
        for null, spelling, strip in itertools.product(nulls, numbers, nested):
            variant = Variant("natural", null, spelling, strip)
            try:
                entries = self.entries(variant)
            except _Unspellable:
                continue
            for order in orders:
                arrange = ORDERS[order]
                if order == "natural" and not self.has_digits:
                    arrange = _by_code_point  # the same order, without the regex
                text = _join(arrange(entries))
                if text not in seen:
                    seen.add(text)
                    yield Variant(order, null, spelling, strip), text

    def shape(self, variant: Variant = SPEC_FORM) -> str:
        """The string to sign with every value masked: enough to compare structures,
        never enough to forge (no value, no secret)."""
        entries = [(leaf, path, "…") for leaf, path, _ in self.entries(variant)]
        return _join(ORDERS[variant.order](entries))


def _join(entries: list[Entry]) -> str:
    return ";".join(f"{path}:{value}" for _, path, value in entries)


def string_to_sign(body: Mapping[str, Any], *, natural: bool = True) -> str:
    """The spec's ``;``-joined, sorted entries (natural or code-point order)."""
    return Canonical(body).text(Variant("natural" if natural else "code-point"))


class Key:
    """A secret key ready for HMAC: the key schedule is computed once, copied per message."""

    def __init__(self, secret: str) -> None:
        self._base = hmac.new(secret.encode("utf-8", "surrogatepass"), digestmod=hashlib.sha512)

    def digest(self, text: str) -> str:
        mac = self._base.copy()
        mac.update(text.encode("utf-8", "surrogatepass"))
        return base64.b64encode(mac.digest()).decode("ascii")


@dataclass(frozen=True)
class Check:
    """How a body's signature fared: the form that matched, or what was tried."""

    form: str | None
    tried: tuple[str, ...] = ()
    given: str | None = None

    @property
    def ok(self) -> bool:
        return self.form is not None


def given_signature(body: Mapping[str, Any]) -> str | None:
    given = body.get("signature")
    general = body.get("general")
    if given is None and isinstance(general, Mapping):
        given = general.get("signature")
    return given if isinstance(given, str) and given else None


def check(body: Mapping[str, Any], key: Key | str) -> Check:
    """Try the forms lazily; the first whose HMAC matches wins (constant-time compare).
    A plain body (verify, check_deposit, a callback) gets the spec's form without the
    general walk."""
    given = given_signature(body)
    if given is None:
        return Check(None)
    key = Key(key) if isinstance(key, str) else key
    expected = given.encode("utf-8", "surrogatepass")
    flat = _flat_text(body)
    if flat is not None and hmac.compare_digest(key.digest(flat).encode(), expected):
        return Check(_SPEC_NAME, (_SPEC_NAME,), given)
    tried: list[str] = []
    for variant, text in Canonical(body).candidates():
        tried.append(variant.name)
        if text != flat and hmac.compare_digest(key.digest(text).encode(), expected):
            return Check(variant.name, tuple(tried), given)
    return Check(None, tuple(tried), given)


_NOT_PLAIN_KEY = re.compile(r"[\d:]")


def _flat_text(body: Mapping[str, Any]) -> str | None:
    """The spec form's string of a body of scalars and objects (no lists) whose keys hold
    no digit and no ``:`` (then natural order is plain order of the paths and nothing is
    escaped), made in one pass; None for any other body, which :class:`Canonical` handles.
    A callback is such a body: its signature costs no general walk either."""
    entries: list[tuple[str, str]] = []
    if not _plain_entries(body, "", entries, top=True):
        return None
    entries.sort()
    return ";".join([f"{path}:{value}" for path, value in entries])


def _plain_entries(node: Mapping[str, Any], prefix: str, entries: list[tuple[str, str]], *, top: bool) -> bool:
    """``node``'s leaves as (path, text) into ``entries``; False at anything the plain form
    cannot hold. Left out as :func:`_unsigned` and :class:`_Walk` leave them out: the top
    level's ``signature`` and ``general.signature``, and the skipped keys at any depth."""
    for key, value in node.items():
        if key in SKIPPED_KEYS or (top and key == "signature") or (prefix == "general:" and key == "signature"):
            continue
        if type(key) is not str or _NOT_PLAIN_KEY.search(key):
            return False
        if type(value) is str:
            entries.append((prefix + key, value))
        elif type(value) is dict:
            if not _plain_entries(value, f"{prefix}{key}:", entries, top=False):
                return False
        elif value is None or isinstance(value, bool | int | float):
            entries.append((prefix + key, _value_text(value, null="")))
        else:  # a list (its indexes are digits), or what JSON does not make
            return False
    return True


def verify(body: Mapping[str, Any], secret: str) -> bool:
    """True when ``body``'s signature matches in any form an official signer produces."""
    return check(body, secret).ok


def sign(body: Mapping[str, Any], secret: str) -> str:
    """Signature of ``body`` in the spec's form (natural order), as the simulator sends it."""
    return Key(secret).digest(Canonical(body).text(SPEC_FORM))


def signed(body: Mapping[str, Any], secret: str) -> dict[str, Any]:
    """A copy of ``body`` carrying its signature."""
    return {**_unsigned(body), "signature": sign(body, secret)}


_BASE64_HMAC = re.compile(r"^[A-Za-z0-9+/]{86}==$")


# The diagnosis's sentences: the traffic record keeps them in English, the console shows
# them in the operator's language (kassa24_console.reasons).
NO_SIGNATURE = N_("no signature in the body")
NOT_HMAC = N_("the signature is not a Base64 HMAC-SHA512: an unknown signing scheme")
BODY_CHANGED = N_("other requests verify with this key: the body was likely changed after signing")
BODY_CHANGED_OR_FORM = N_(
    "other requests verify with this key: the body was likely changed after signing, "
    "or signed in a canonical form we do not know"
)
KEY_DIFFERS = N_("no request has verified with this key lately: the secret key likely differs")
COLON_KEYS = N_("a key holds ':', accepted only written '::' (one signature, one body)")


def diagnose(body: Mapping[str, Any], result: Check, key_works_elsewhere: bool) -> str:
    """Why a signature likely failed, in words an operator can act on; never a secret and
    never a value of the body (the shape shows keys only)."""
    if result.given is None:
        return NO_SIGNATURE
    canonical = Canonical(body)
    tried = f"tried {len(result.tried)} form(s): {', '.join(result.tried)}"
    if not _BASE64_HMAC.match(result.given):
        cause = NOT_HMAC
    elif key_works_elsewhere:
        cause = BODY_CHANGED_OR_FORM if canonical.has_null or canonical.has_float else BODY_CHANGED
    else:
        cause = KEY_DIFFERS
    if canonical.has_colon_keys:
        cause += "; " + COLON_KEYS
    shape = canonical.shape()
    if len(shape) > 300:
        shape = shape[:300] + "…"
    return f"{cause}; {tried}; string to sign, values masked: {shape}"
