"""Protocol codes and the callback statuses the service tells apart (spec tables)."""

from __future__ import annotations

from enum import IntEnum

from ..i18n import N_


class Code(IntEnum):
    """The ``code`` of a verify or check_deposit answer."""

    OK = 0
    NO_DEBT = 204
    SIGNATURE = 400
    NOT_FOUND = 404
    ERROR = 500


# What the payer reads on the terminal: English here (the traffic record's reason), sent in
# the customer's language (``Settings.customer_language``) through the catalog.
MESSAGES: dict[Code, str] = {
    Code.OK: N_("Success"),
    Code.NO_DEBT: N_("No outstanding debts found"),
    Code.SIGNATURE: N_("Signature error"),
    Code.NOT_FOUND: N_("Account does not exist"),
    Code.ERROR: N_("General error"),
}
STORE_FAILED = N_("temporarily unable to store the deposit; retry")

SUCCESS = "success"
FAILED_STATUSES = frozenset(
    {"decline", "expired", "error", "internal error", "external error", "cancelled", "canceled"}
)


def outcome(status: str) -> str | None:
    """``paid``, ``failed`` or ``None`` (not final) for a callback's ``payment.status``."""
    if status == SUCCESS:
        return "paid"
    if status in FAILED_STATUSES:
        return "failed"
    return None
