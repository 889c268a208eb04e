"""Cells for the console's tables: always ``rich.text.Text``, never markup.

Payloads are untrusted: a customer id like ``[/x]`` must show as itself, not crash a table.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from rich.text import Text

from ..money import format_money

OK_CODES = (0, 204)


def at_text(at_us: int | None, zone: ZoneInfo, with_date: bool = False, minutes: bool = False) -> Text:
    """Time of day; with the date for detail views, to the minute where space is short."""
    if not at_us:
        return Text("")
    moment = datetime.fromtimestamp(at_us / 1_000_000, zone)
    if not with_date and not minutes and moment.date() != datetime.now(zone).date():
        return Text(moment.strftime("%m-%d %H:%M"))  # not today: the date says which day
    pattern = "%Y-%m-%d %H:%M" if minutes else "%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S"
    return Text(moment.strftime(pattern))


def plain(value: object) -> Text:
    return Text("" if value is None else str(value), no_wrap=True, overflow="ellipsis")


def money(minor: int | None, currency: str = "KZT") -> Text:
    return Text(format_money(minor, currency), justify="right")


def code_text(code: int | None, http_status: int) -> Text:
    if code is None:
        return Text(f"HTTP {http_status}", style="red" if http_status >= 400 else "")
    return Text(str(code), style="green" if code in OK_CODES else "bold red", justify="right")


def signature_text(ok: bool | None) -> Text:
    if ok is None:
        return Text("–", style="dim")
    return Text("ok", style="green") if ok else Text("BAD", style="bold red")


def latency_text(us: int) -> Text:
    return Text(f"{us / 1000:.1f} ms", justify="right")


def wrap_at_spaces(text: str, width: int) -> list[str]:
    """Lines of at most ``width`` cells, broken only at plain spaces (Rich breaks at any
    whitespace, no-break spaces inside amounts too); a longer word keeps its own line."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split(" "):
            if line and len(line) + 1 + len(word) > width:
                lines.append(line)
                line = word
            else:
                line = f"{line} {word}" if line else word
        lines.append(line)
    return lines


def evidence_text(evidence: object) -> str:
    """A finding's evidence as words: ``deposit 1 500,00 ₸ · report 1 000,00 ₸``,
    ``deposit state pending · callback statuses success`` (stored as JSON, never shown so)."""
    if not isinstance(evidence, dict):
        return "" if evidence is None else str(evidence)
    return " · ".join(f"{key.replace('_', ' ')} {_value_text(key, value)}" for key, value in evidence.items())


def _value_text(key: str, value: object) -> str:
    if isinstance(value, dict):
        if set(value) == {"amount", "currency"} and isinstance(value["amount"], int):
            return format_money(value["amount"], str(value["currency"] or "KZT"))
        inner = [f"{k.replace('_', ' ')} {_value_text(k, v)}" for k, v in value.items() if v is not None]
        return ", ".join(inner)
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "none"
    if key == "amount" and isinstance(value, int):
        return format_money(value)
    return "–" if value is None else str(value)
