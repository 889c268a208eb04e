"""Protocol messages as the platform sends them (unsigned: sign with ``signed``)."""

from __future__ import annotations

from typing import Any

from tests.support.common import PROJECT_ID


def verify_body(customer: str, **extra: Any) -> dict[str, Any]:
    return {"type": "verify", "project_id": PROJECT_ID, "customer_id": customer, **extra}


def deposit_body(customer: str, contract: str | None, amount: Any = 100_000, **extra: Any) -> dict[str, Any]:
    body = {
        "type": "check_deposit",
        "project_id": PROJECT_ID,
        "customer_id": customer,
        "amount": amount,
        "currency": "KZT",
        "payment_method": "kassa24",
        **extra,
    }
    if contract is not None:
        body["entity_id"] = contract
    return body


def callback_body(
    payment_id: str,
    status: str = "success",
    amount: int = 100_000,
    operation_id: int = 1,
    currency: str = "KZT",
    **extra: Any,
) -> dict[str, Any]:
    date = "2026-11-27T08:00:00+0000"
    return {
        "project_id": PROJECT_ID,
        "payment": {
            "id": payment_id,
            "type": "purchase",
            "status": status,
            "date": date,
            "method": "Kassa24",
            "sum": {"amount": amount, "currency": currency},
            "description": "",
        },
        "account": {"number": "123456"},
        "customer": {"id": "customer_1"},
        "operation": {
            "id": operation_id,
            "type": "sale",
            "status": status,
            "date": date,
            "created_date": date,
            "request_id": "r1",
            "sum_initial": {"amount": amount, "currency": currency},
            "sum_converted": {"amount": amount, "currency": currency},
            "code": "0" if status == "success" else "100",
            "message": status,
            "provider": {"id": 1, "payment_id": "p", "auth_code": ""},
        },
        **extra,
    }
