"""What a merchant's answers must look like (spec: kassa24-terminal.md), checked field by field.

A merchant that answers the right ``code`` but leaves out ``currency`` or a contract's
``number`` breaks the terminal all the same; so every verify and check_deposit answer a
scenario receives is checked here, for the response option the merchant uses.
"""

from __future__ import annotations

from typing import Any

VERIFY_CODES = frozenset({0, 204, 400, 404, 500})
CHECK_DEPOSIT_CODES = frozenset({0, 400, 404, 500})


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _need(body: dict[str, Any], field: str, kind: type, where: str) -> list[str]:
    if field not in body:
        return [f"{where}missing '{field}'"]
    value = body[field]
    if kind is int:
        return [] if _is_int(value) else [f"{where}'{field}' must be an integer, got {value!r}"]
    return [] if isinstance(value, kind) else [f"{where}'{field}' must be a {kind.__name__}, got {value!r}"]


def problems(kind: str, option: int, body: Any) -> list[str]:
    """What is wrong with a verify or check_deposit answer (empty when nothing is)."""
    if not isinstance(body, dict):
        return ["the answer is not a JSON object"]
    found = _need(body, "code", int, "")
    if found:
        return found
    code = body["code"]
    allowed = VERIFY_CODES if kind == "verify" else CHECK_DEPOSIT_CODES
    if code not in allowed:
        return [f"code {code} is not in the spec's table for {kind} ({', '.join(map(str, sorted(allowed)))})"]
    if kind == "verify":
        return _verify(option, code, body)
    if code == 0:
        payment_id = body.get("payment_id")
        if not isinstance(payment_id, str) or not payment_id:
            return ["code 0 without a non-empty string 'payment_id'"]
    elif "payment_id" in body:
        return [f"code {code} carries a payment_id: no payment id may be issued for a refused deposit"]
    return []


def _verify(option: int, code: int, body: dict[str, Any]) -> list[str]:
    if code not in (0, 204):
        return []
    found = _need(body, "currency", str, "")
    if option == 1:
        return found
    found += _need(body, "additional_customer_id", str, "")
    found += _need(body, "entities", list, "")
    for index, entity in enumerate(body.get("entities") or []):
        where = f"entities[{index}]: "
        if not isinstance(entity, dict):
            found.append(f"{where}not an object")
            continue
        found += _need(entity, "id", str, where)
        found += _need(entity, "number", str, where)
        found += _need(entity, "payment", int, where)
        found += _need(entity, "status_code", int, where)
        if "min_payment" in entity and not _is_int(entity["min_payment"]):
            found.append(f"{where}'min_payment' must be an integer")
        if "info" in entity and not isinstance(entity["info"], dict):
            found.append(f"{where}'info' must be an object")
    return found
