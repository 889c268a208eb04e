"""Cells for the console's tables: always ``rich.text.Text``, never markup.

Payloads are untrusted: a customer id like ``[/x]`` must show as itself, not crash a table.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from rich.text import Text

from ..i18n import N_, _, current_language
from ..money import format_money
from ..reconcile.words import word

OK_CODES = (0, 204)
# The kinds of traffic: verify and check_deposit are the protocol's names (kept as codes);
# the others are words.
KINDS = {"callback": N_("callback"), "unknown": N_("unknown")}


def kind_text(kind: str | None) -> str:
    return _(KINDS[kind]) if kind in KINDS else (kind or "")


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
    return Text(_("ok"), style="green") if ok else Text(_("BAD"), style="bold red")


def latency_text(us: int) -> Text:
    ms = f"{us / 1000:.1f}"
    if current_language() != "en":
        ms = ms.replace(".", ",")  # the decimal comma of ru and kk
    return Text(_("{ms} ms").format(ms=ms), justify="right")


def wrap_at_spaces(text: str, width: int) -> list[str]:
    """Lines of at most ``width`` cells, broken only at plain spaces (Rich breaks at any
    whitespace, no-break spaces inside amounts too); a longer word keeps its own line."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for piece in paragraph.split(" "):
            if line and len(line) + 1 + len(piece) > width:
                lines.append(line)
                line = piece
            else:
                line = f"{line} {piece}" if line else piece
        lines.append(line)
    return lines


# The keys of a finding's evidence (stored in English) as the operator reads them.
EVIDENCE = {
    "amount": N_("amount"),
    "callback": N_("callback"),
    "callback_statuses": N_("callback statuses"),
    "currency": N_("currency"),
    "customer_id": N_("customer"),
    "contract_id": N_("contract"),
    "deposit": N_("deposit"),
    "deposit_state": N_("deposit state"),
    "first_payment_id": N_("first payment id"),
    "first_sha256": N_("first SHA-256"),
    "sha256": N_("SHA-256"),
    "hour": N_("hour"),
    "limit": N_("limit"),
    "month": N_("month"),
    "operation_id": N_("operation"),
    "operation_status": N_("operation status"),
    "ours": N_("ours"),
    "paid": N_("paid"),
    "payment_id": N_("payment id"),
    "peer": N_("peer"),
    "platform": N_("platform"),
    "report": N_("report"),
    "report_operations": N_("operations in the report"),
    "state": N_("state"),
    "status": N_("status"),
    "successful_operations": N_("successful operations"),
    "outcome": N_("outcome"),
    "deliveries": N_("deliveries"),
}


def _key(key: str) -> str:
    """An evidence key in the operator's words; in English the key itself, spaced."""
    said = _(EVIDENCE[key]) if key in EVIDENCE else key
    return key.replace("_", " ") if said == EVIDENCE.get(key, key) else said


def evidence_text(evidence: object) -> str:
    """A finding's evidence as words: ``deposit 1 500,00 ₸ · report 1 000,00 ₸``,
    ``deposit state pending · callback statuses success`` (stored as JSON, never shown so)."""
    if not isinstance(evidence, dict):
        return "" if evidence is None else str(evidence)
    return " · ".join(f"{_key(key)} {_value_text(key, value)}" for key, value in evidence.items())


def _value_text(key: str, value: object) -> str:
    if isinstance(value, dict):
        if set(value) == {"amount", "currency"} and isinstance(value["amount"], int):
            return format_money(value["amount"], str(value["currency"] or "KZT"))
        inner = [f"{_key(k)} {_value_text(k, v)}" for k, v in value.items() if v is not None]
        return ", ".join(inner)
    if isinstance(value, list):
        return ", ".join(word(str(v)) for v in value) or _("none")
    if key == "amount" and isinstance(value, int):
        return format_money(value)
    if isinstance(value, str):
        return word(value)
    return "–" if value is None else str(value)
