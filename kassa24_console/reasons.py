"""A traffic record's reason in the operator's language.

The record keeps the reason in English (the database and the log are machine outputs): a
code's message, a parse error naming a field, a callback's outcome, or the signature's
diagnosis (``cause; tried N form(s): …; string to sign, values masked: …``). Shown to a
person, each ``;``-separated part is translated: a sentence of the catalog as it is, the
known shapes with their values put back in, anything else (a value from the body, a
validator's own words) as received.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .i18n import N_, _, current_language, ngettext

# Reasons written by the service and the listener (besides the code messages and the
# signature's diagnosis, which are marked where they are written).
PLAIN = (
    N_("signature error"),
    N_("internal error"),
    N_("temporarily unable to store the callback; retry"),
    N_("body is not valid UTF-8"),
    N_("body is empty"),
    N_("body is not valid JSON"),
    N_("body must be a JSON object"),
    N_("must be an integer, not a boolean"),
    N_("must be an integer of minor units (JSON integer or a string of digits)"),
    N_("is out of range"),
    N_("must be a string"),
    N_("must not be empty"),
    N_("Field required"),
    N_("the port is already in use"),
)
# A callback's outcome, when it is the reason (what the callbacks pane also shows).
OUTCOMES = {
    "applied": N_("applied"),
    "duplicate": N_("duplicate"),
    "recorded": N_("recorded"),
    "conflict": N_("conflict"),
    "unknown_payment": N_("unknown payment"),
    "rejected": N_("rejected"),
    "invalid_amount": N_("invalid amount"),
}


def _tried(match: re.Match[str]) -> str:
    n = int(match[1])
    return ngettext("tried {n} form: {forms}", "tried {n} forms: {forms}", n).format(n=n, forms=match[2])


def _field(match: re.Match[str]) -> str:
    return _("invalid field '{field}': {reason}").format(field=match[1], reason=part_text(match[2]))


def _project(match: re.Match[str]) -> str:
    return _("{project} is not this merchant's project").format(project=match[1])


SHAPES: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (re.compile(r"tried (\d+) form\(s\): (.*)", re.S), _tried),
    (
        re.compile(r"string to sign, values masked: (.*)", re.S),
        lambda m: _("string to sign, values masked: {shape}").format(shape=m[1]),
    ),
    (re.compile(r"missing field '(.*)'", re.S), lambda m: _("missing field '{field}'").format(field=m[1])),
    (re.compile(r"(-?\d+) is not this merchant's project", re.S), _project),
    (re.compile(r"invalid field '([^']*)': (.*)", re.S), _field),
    (
        re.compile(r"duplicate key (.*) in JSON object", re.S),
        lambda m: _("duplicate key {key} in JSON object").format(key=m[1]),
    ),
    (re.compile(r"(.*) is not valid JSON", re.S), lambda m: _("{name} is not valid JSON").format(name=m[1])),
    (
        re.compile(r"cannot listen on (\S+): (.*)", re.S),
        lambda m: _("cannot listen on {where}: {reason}").format(where=m[1], reason=part_text(m[2])),
    ),
    (
        re.compile(r"(.+) is below the contract's minimum (.+)", re.S),
        lambda m: _("{amount} is below the contract's minimum {minimum}").format(amount=m[1], minimum=m[2]),
    ),
    (
        re.compile(r"(.+) is below the minimum (.+)", re.S),
        lambda m: _("{amount} is below the minimum {minimum}").format(amount=m[1], minimum=m[2]),
    ),
    (
        re.compile(r"(.+) is above the maximum (.+)", re.S),
        lambda m: _("{amount} is above the maximum {maximum}").format(amount=m[1], maximum=m[2]),
    ),
    (
        re.compile(r"expected (.+), got (.+)", re.S),
        lambda m: _("expected {expected}, got {got}").format(expected=m[1], got=m[2]),
    ),
    (
        re.compile(r"contract (.+) does not accept payments \(status_code (\d+)\)", re.S),
        lambda m: _("contract {id} does not accept payments (status code {code})").format(id=m[1], code=m[2]),
    ),
    (
        re.compile(r"unknown type (.+): expected 'verify' or 'check_deposit'", re.S),
        lambda m: _("unknown type {type}: expected 'verify' or 'check_deposit'").format(type=m[1]),
    ),
)


def part_text(part: str) -> str:
    """One part of a reason in the operator's words (as received when it is no known shape)."""
    if part in OUTCOMES:  # in English, the outcome's own key (as the callbacks pane always said)
        said = _(OUTCOMES[part])
        return part if said == OUTCOMES[part] else said
    translated = _(part)
    if translated != part:
        return translated
    for pattern, say in SHAPES:
        match = pattern.fullmatch(part)
        if match:
            return say(match)
    return part


def reason_text(reason: str | None) -> str:
    """The whole reason, each ``; ``-separated part translated (in English: as recorded)."""
    if not reason or current_language() == "en":
        return reason or ""
    return "; ".join(part_text(part) for part in split(reason))


def short_reason(reason: str | None) -> str:
    """The first part only (the cause): what the traffic list's narrow column shows."""
    if current_language() == "en":
        return (reason or "").split(";")[0]
    parts = split(reason or "")
    return part_text(parts[0]) if parts and parts[0] else ""


def split(reason: str) -> list[str]:
    """The parts of a reason; a sentence of the catalog that holds ``; `` stays whole."""
    if _(reason) != reason or reason in OUTCOMES:
        return [reason]
    parts = reason.split("; ")
    merged: list[str] = []
    for part in parts:
        if merged and _(f"{merged[-1]}; {part}") != f"{merged[-1]}; {part}":
            merged[-1] = f"{merged[-1]}; {part}"
        else:
            merged.append(part)
    return merged
