"""The traffic filter language: short expressions an operator types to narrow the list.

``kind:verify code:500 customer:7012 sig:bad some text`` — terms are ANDed; a bare word
matches the raw request or response. ``kind`` accepts prefixes (``kind:check``), ``code``
matches the protocol code or the HTTP status.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .i18n import _

FIELDS = ("kind", "code", "customer", "contract", "sig")


@dataclass(frozen=True)
class TrafficFilter:
    kind: str | None = None
    code: int | None = None
    customer: str | None = None
    contract: str | None = None
    signature_ok: bool | None = None
    words: tuple[str, ...] = field(default_factory=tuple)
    problems: tuple[str, ...] = field(default_factory=tuple)
    project: int | None = None  # one project's rows only (the console's project filter)

    @property
    def empty(self) -> bool:
        return self == TrafficFilter()


def parse_filter(text: str) -> TrafficFilter:
    """Parse what the operator typed; unknown or malformed terms are reported, not fatal."""
    values: dict[str, object] = {}
    words: list[str] = []
    problems: list[str] = []
    for token in text.split():
        name, sep, value = token.partition(":")
        if not sep or name.lower() not in FIELDS:
            words.append(token)
            continue
        name = name.lower()
        if not value:
            problems.append(_("{name}: needs a value").format(name=name))
        elif name == "code":
            if value.isdigit():
                values["code"] = int(value)
            else:
                problems.append(_("code:{value} is not a number").format(value=value))
        elif name == "sig":
            if value.lower() in ("ok", "good", "1", "yes"):
                values["signature_ok"] = True
            elif value.lower() in ("bad", "0", "no"):
                values["signature_ok"] = False
            else:
                problems.append(_("sig: use sig:ok or sig:bad"))
        else:
            values[name] = value
    # arg-type: ``values`` holds only the fields parsed above, each of its field's own type,
    # which a dict of mixed values cannot say to the checker.
    return TrafficFilter(words=tuple(words), problems=tuple(problems), **values)  # type: ignore[arg-type]
