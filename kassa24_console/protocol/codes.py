"""Protocol codes and the callback statuses the service tells apart (spec tables)."""

from __future__ import annotations

from enum import IntEnum


class Code(IntEnum):
    """The ``code`` of a verify or check_deposit answer."""

    OK = 0
    NO_DEBT = 204
    SIGNATURE = 400
    NOT_FOUND = 404
    ERROR = 500


MESSAGES: dict[Code, str] = {
    Code.OK: "Success",
    Code.NO_DEBT: "No outstanding debts found",
    Code.SIGNATURE: "Signature error",
    Code.NOT_FOUND: "Account does not exist",
    Code.ERROR: "General error",
}

SUCCESS = "success"
FAILED_STATUSES = frozenset(
    {"decline", "expired", "error", "internal error", "external error", "cancelled", "canceled"}
)


def is_final(status: str) -> bool:
    """A terminal purchase ends in success or one of the failures; all else may still change."""
    return status == SUCCESS or status in FAILED_STATUSES


def outcome(status: str) -> str | None:
    """``paid``, ``failed`` or ``None`` (not final) for a callback's ``payment.status``."""
    if status == SUCCESS:
        return "paid"
    if status in FAILED_STATUSES:
        return "failed"
    return None
