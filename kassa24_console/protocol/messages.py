"""Inbound message models: the platform's requests and callbacks, parsed strictly.

Parsing turns a JSON object into a typed model or a :class:`BadMessage` whose text names
the field, so the answer can say exactly what was wrong. Nothing here does I/O.
"""

from __future__ import annotations

import functools
import json
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from ..errors import InputError


class BadMessage(InputError):
    """The body is not a message we can act on; ``str(exc)`` is safe to send back."""


def _digits_to_int(value: Any) -> Any:
    """Integers of minor units arrive as JSON integers or strings of digits, nothing else."""
    if isinstance(value, bool):
        raise ValueError("must be an integer, not a boolean")
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value) if len(value) <= 19 else 2**63  # longer cannot fit; say so below
    if not isinstance(value, int):
        raise ValueError("must be an integer of minor units (JSON integer or a string of digits)")
    if abs(value) >= 2**63:
        raise ValueError("is out of range")  # it could not be stored, and no payment is that large
    return value


def _id_text(value: Any) -> Any:
    """Ids are strings; a JSON integer is taken as its digits (never a float or a bool)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError("must be a string")
    text = str(value)
    if not text.strip():
        raise ValueError("must not be empty")
    return text


MinorUnits = Annotated[int, BeforeValidator(_digits_to_int)]
IdText = Annotated[str, BeforeValidator(_id_text)]


class _Message(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True, frozen=True)


class VerifyRequest(_Message):
    type: Literal["verify"]
    project_id: MinorUnits
    customer_id: IdText
    signature: str


class CheckDepositRequest(_Message):
    type: Literal["check_deposit"]
    project_id: MinorUnits
    customer_id: IdText
    amount: MinorUnits
    currency: str
    payment_method: str
    signature: str
    entity_id: IdText | None = None
    number: str | None = None


class Money(_Message):
    amount: MinorUnits
    currency: str


class CallbackPayment(_Message):
    id: IdText
    status: str
    type: str | None = None
    date: str | None = None
    method: str | None = None
    sum: Money | None = None
    description: str | None = None


class CallbackOperation(_Message):
    id: IdText
    status: str
    type: str | None = None
    date: str | None = None
    created_date: str | None = None
    request_id: str | None = None
    sum_initial: Money | None = None
    sum_converted: Money | None = None
    code: IdText | None = None
    message: str | None = None


class Callback(_Message):
    project_id: MinorUnits
    payment: CallbackPayment
    operation: CallbackOperation
    customer: dict[str, Any] | None = None
    account: dict[str, Any] | None = None

    @property
    def money(self) -> Money | None:
        """What was paid: ``payment.sum``, else the operation's initial sum."""
        return self.payment.sum or self.operation.sum_initial

    @property
    def customer_id(self) -> str | None:
        value = (self.customer or {}).get("id")
        return None if value is None else str(value)


M = TypeVar("M", bound=_Message)


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):  # a key came twice: name the first
        keys = [k for k, _ in pairs]
        dup = next(k for k in keys if keys.count(k) > 1)
        raise BadMessage(f"duplicate key {dup!r} in JSON object")
    return result


def _reject_constant(name: str) -> Any:
    raise BadMessage(f"{name} is not valid JSON")


# Structural limits of a body nobody has vouched for yet, checked right after parsing and
# before any signature work (whose cost grows with the number of values). The platform's
# messages hold tens of values a few levels deep; these leave room for a hundred times that.
MAX_DEPTH = 32
MAX_VALUES = 4000
MAX_STRING = 8192
_SMALL = min(MAX_STRING, 2 * MAX_VALUES)


def check_structure(data: Any) -> None:
    """:class:`BadMessage` when ``data`` is deeper, larger or longer than a message can be.
    Iterative, and it stops at the first excess: its cost is bounded by the limits."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    values = 0
    while stack:
        node, depth = stack.pop()
        values += 1
        if values > MAX_VALUES:
            raise BadMessage(f"body has more than {MAX_VALUES} values")
        if isinstance(node, dict | list):
            if depth > MAX_DEPTH:
                raise BadMessage(f"body is nested deeper than {MAX_DEPTH} levels")
            if values + len(node) > MAX_VALUES:
                raise BadMessage(f"body has more than {MAX_VALUES} values")
        if isinstance(node, dict):
            for key, value in node.items():
                if len(key) > MAX_STRING:
                    raise BadMessage(f"a key is longer than {MAX_STRING} characters")
                stack.append((value, depth + 1))
        elif isinstance(node, list):
            stack.extend((value, depth + 1) for value in node)
        elif isinstance(node, str) and len(node) > MAX_STRING:
            raise BadMessage(f"a string is longer than {MAX_STRING} characters")


@functools.cache
def _decoder() -> json.JSONDecoder:
    """One decoder, made once (``json.loads`` with hooks makes a new one per call)."""
    return json.JSONDecoder(object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant)


def parse_json(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object within the structural limits; duplicate keys, NaN and
    non-objects are refused."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadMessage("body is not valid UTF-8") from None
    if not text.strip():
        raise BadMessage("body is empty")
    try:
        data = _decoder().decode(text)
    except BadMessage:
        raise
    except (ValueError, RecursionError):
        raise BadMessage("body is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadMessage("body must be a JSON object")
    if len(raw) > _SMALL or raw.count(b"{") + raw.count(b"[") > MAX_DEPTH:
        check_structure(data)  # a small, shallow body cannot exceed the limits: no walk
    return data


def _describe(error: ValidationError) -> str:
    first = error.errors(include_url=False)[0]
    field = ".".join(str(part) for part in first["loc"]) or "body"
    if first["type"] == "missing":
        return f"missing field '{field}'"
    reason = first["msg"].removeprefix("Value error, ")
    return f"invalid field '{field}': {reason}"


def parse(model: type[M], data: dict[str, Any]) -> M:
    """``data`` as ``model``, or :class:`BadMessage` naming the first bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise BadMessage(_describe(error)) from None


def looks_like_callback(data: dict[str, Any]) -> bool:
    """A body with no ``type`` but ``payment`` and ``operation`` objects is a callback."""
    return "type" not in data and isinstance(data.get("payment"), dict) and isinstance(data.get("operation"), dict)
