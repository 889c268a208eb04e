"""verify and check_deposit over real HTTP to a real ``serve`` process, both response options."""

from __future__ import annotations

import json
import time

import pytest
from conftest import (
    PROJECT_ID,
    SECRET,
    Server,
    deposit_body,
    load_vectors,
    new_customer,
    seed,
    verify_body,
)
from payment_page_sdk.signature_handler import SignatureHandler

from kassa24_console.i18n import gettext_in
from kassa24_console.protocol.signature import signed


def _deposits(server: Server, customer: str) -> list:
    return server.rows("SELECT * FROM deposits WHERE customer_id = ?", customer)


def _error_text(server: Server, body: dict) -> str:
    """The error text: ``message`` always, and ``error_description`` too with option 1."""
    if server.option == 1:
        assert body["error_description"] == body["message"]
    return body["message"]


# --- verify --------------------------------------------------------------------------------


def test_verify_success(server: Server) -> None:
    customer, (c1, c2) = new_customer(
        server,
        {"payment": 450_000, "min_payment": 100_000, "info": {"customer_name": "Сейітова Ә.", "total_debt": 9}},
        {"payment": 0, "status_code": 206, "status_text": "blocked"},
    )
    response = server.post(verify_body(customer))
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == 0
    assert body["currency"] == "KZT"
    assert body["additional_customer_id"] == f"A{customer}"
    if server.option == 1:
        assert "entities" not in body
        return
    first, second = body["entities"]
    assert first == {
        "id": c1,
        "number": f"N{customer}/0",
        "payment": 450_000,
        "min_payment": 100_000,
        "status_code": 0,
        "info": {"customer_name": "Сейітова Ә.", "total_debt": 9},
    }
    assert second == {"id": c2, "number": f"N{customer}/1", "payment": 0, "status_code": 206}


def test_verify_nothing_due(server: Server) -> None:
    customer, _ = new_customer(server, {"payment": 0}, {"payment": 0})
    body = server.post(verify_body(customer)).json()
    if server.option == 1:
        assert body["code"] == 0  # option 1 does not speak of contracts
    else:
        assert body["code"] == 204
        assert [e["payment"] for e in body["entities"]] == [0, 0]


def test_verify_account_without_contracts_is_204_in_option2(server: Server) -> None:
    customer, _ = new_customer(server)
    assert server.post(verify_body(customer)).json()["code"] == (0 if server.option == 1 else 204)


def test_verify_unknown_account(server: Server) -> None:
    body = server.post(verify_body("no-such-account")).json()
    assert body["code"] == 404
    assert _error_text(server, body) == "Лицевой счёт не найден"  # customer_language: ru by default


def test_verify_bad_signature(server: Server) -> None:
    customer, _ = new_customer(server, {})
    payload = signed(verify_body(customer), SECRET)
    payload["customer_id"] = customer[:-1] + ("1" if customer[-1] != "1" else "2")
    body = server.post(payload, sign=False).json()
    assert body["code"] == 400
    assert body == {
        "code": 400,
        "message": "Ошибка подписи",
        **({"error_description": "Ошибка подписи"} if server.option == 1 else {}),
    }
    unsigned = server.post(verify_body(customer), sign=False).json()
    assert unsigned["code"] == 400


def test_verify_wrong_project(server: Server) -> None:
    customer, _ = new_customer(server, {})
    body = server.post(verify_body(customer, project_id=PROJECT_ID + 1)).json()
    assert body["code"] == 500
    assert "project_id" in _error_text(server, body)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"type": "refund", "project_id": PROJECT_ID, "customer_id": "1"}, "unknown type 'refund'"),
        ({"project_id": PROJECT_ID, "customer_id": "1"}, "unknown type None"),
        ({"type": "verify", "project_id": PROJECT_ID}, "missing field 'customer_id'"),
        ({"type": "verify", "customer_id": "1"}, "missing field 'project_id'"),
        ({"type": "verify", "project_id": PROJECT_ID, "customer_id": ["1"]}, "invalid field 'customer_id'"),
        ({"type": "verify", "project_id": "12x", "customer_id": "1"}, "invalid field 'project_id'"),
        ({"type": "verify", "project_id": PROJECT_ID, "customer_id": 1.5}, "invalid field 'customer_id'"),
    ],
)
def test_malformed_signed_requests_get_500_naming_the_field(server: Server, body: dict, reason: str) -> None:
    response = server.post(body)
    assert response.status_code == 200
    answer = response.json()
    assert answer["code"] == 500
    assert reason in _error_text(server, answer)
    assert "Traceback" not in response.text


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "body is empty"),
        (b"not json", "body is not valid JSON"),
        (b"[1, 2]", "body must be a JSON object"),
        (b'{"type": "verify", "type": "verify"}', "duplicate key 'type'"),
        (b"\xff\xfe{}", "body is not valid UTF-8"),
        (b'{"a": NaN}', "NaN is not valid JSON"),
        (b"[/x]" * 10, "body is not valid JSON"),
    ],
)
def test_non_json_bodies_get_500_with_a_message(server: Server, raw: bytes, reason: str) -> None:
    """The message is for the payer's terminal: in the customer's language (ru unless set)."""
    response = server.post(raw)
    assert response.status_code == 200
    assert response.json()["code"] == 500
    assert gettext_in("ru", reason) in response.json()["message"]


def test_seed_verify_example(server: Server) -> None:
    """The spec's verify example: its placeholder signature fails, the real one passes."""
    case = next(c for c in load_vectors() if c["name"].startswith("verify request"))
    seed(
        server.db_url,
        [{"customer_id": "7123456789", "additional_customer_id": "ABCDE12345"}],
        [{"id": "V-1", "customer_id": "7123456789", "number": "V/1", "payment": 100_000}],
    )
    placeholder = {**case["body"], "signature": "e19695449545fac562843ca06e7e0f3e51281ad6"}
    assert server.post(placeholder, sign=False).json()["code"] == 400
    for key in ("signature_natural", "signature_codepoint"):
        body = server.post({**case["body"], "signature": case[key]}, sign=False).json()
        assert body["code"] == 0
        assert body["additional_customer_id"] == "ABCDE12345"


def test_request_signed_by_the_platform_sdk(server: Server) -> None:
    customer, _ = new_customer(server, {})
    body = verify_body(customer)
    raw = json.dumps({**body, "signature": SignatureHandler(SECRET).sign(body)}).encode()
    assert server.post(raw).json()["code"] == 0
    # One changed byte anywhere in the signed content is refused.
    changed = customer[:-1] + ("1" if customer[-1] != "1" else "2")
    tampered = raw.replace(customer.encode(), changed.encode(), 1)
    assert tampered != raw
    assert server.post(tampered).json()["code"] == 400


# --- check_deposit -------------------------------------------------------------------------


def test_check_deposit_success_stores_a_pending_deposit(server: Server) -> None:
    customer, (contract,) = new_customer(server, {"payment": 500_000, "min_payment": 100_000})
    response = server.post(deposit_body(customer, contract, 250_000))
    body = response.json()
    assert body["code"] == 0
    assert body["payment_id"].startswith("k24_")
    assert body["description"] == "Успешно"
    if server.option == 1:
        assert body["customer_id"] == customer
    (row,) = _deposits(server, customer)
    assert (row["payment_id"], row["contract_id"], row["amount"], row["currency"], row["state"]) == (
        body["payment_id"],
        contract,
        250_000,
        "KZT",
        "pending",
    )
    again = server.post(deposit_body(customer, contract, 250_000)).json()
    assert again["payment_id"] != body["payment_id"]


def test_check_deposit_amount_as_digit_string(server: Server) -> None:
    customer, (contract,) = new_customer(server, {})
    body = server.post(deposit_body(customer, contract, "150000")).json()
    assert body["code"] == 0
    assert _deposits(server, customer)[0]["amount"] == 150_000


def test_check_deposit_option1_needs_no_contract(server: Server) -> None:
    customer, _ = new_customer(server, {})
    body = server.post(deposit_body(customer, None)).json()
    if server.option == 1:
        assert body["code"] == 0
        assert _deposits(server, customer)[0]["contract_id"] is None
    else:
        assert body["code"] == 500
        assert "missing field 'entity_id'" in body["message"]
        assert _deposits(server, customer) == []


REJECTIONS = [
    ("amount float", {"amount": 1000.0}, "invalid field 'amount'"),
    ("amount as written in the spec", {"amount": "10 000,00"}, "invalid field 'amount'"),
    ("amount boolean", {"amount": True}, "invalid field 'amount'"),
    ("amount negative", {"amount": -100}, "below the minimum 1.00 KZT"),
    ("amount null", {"amount": None}, "invalid field 'amount'"),
    ("amount below 1.00", {"amount": 99}, "below the minimum 1.00 KZT"),
    ("amount above 500,000.00", {"amount": 50_000_001}, "above the maximum 500000.00 KZT"),
    ("amount below contract minimum", {"amount": 150_000, "_min": 200_000}, "below the contract's minimum 2000.00"),
    ("wrong currency", {"currency": "USD"}, "invalid field 'currency'"),
    ("wrong payment method", {"payment_method": "card"}, "invalid field 'payment_method'"),
    ("unknown contract", {"entity_id": "no-such-contract"}, "is not a contract of this customer"),
    ("number does not match", {"number": "other"}, "invalid field 'number'"),
    ("blocked contract", {"_status": 206}, "does not accept payments (status_code 206)"),
    ("missing currency", {"currency": ...}, "missing field 'currency'"),
    ("missing amount", {"amount": ...}, "missing field 'amount'"),
    ("wrong project", {"project_id": 99}, "invalid field 'project_id'"),
]


@pytest.mark.parametrize(("change", "reason"), [(c, r) for _, c, r in REJECTIONS], ids=[n for n, _, _ in REJECTIONS])
def test_check_deposit_rejections(server: Server, change: dict, reason: str) -> None:
    contract_fields = {"payment": 500_000}
    if "_min" in change:
        contract_fields["min_payment"] = change["_min"]
    if "_status" in change:
        contract_fields["status_code"] = change["_status"]
    customer, (contract,) = new_customer(server, contract_fields)
    body = deposit_body(customer, contract)
    for key, value in change.items():
        if key.startswith("_"):
            continue
        if value is ...:
            body.pop(key)
        else:
            body[key] = value
    answer = server.post(body).json()
    assert answer["code"] == 500
    assert reason in _error_text(server, answer)
    assert "payment_id" not in answer
    assert _deposits(server, customer) == []


def test_check_deposit_foreign_contract(server: Server) -> None:
    _, (foreign,) = new_customer(server, {})
    customer, _ = new_customer(server, {})
    answer = server.post(deposit_body(customer, foreign)).json()
    assert answer["code"] == 500
    assert "is not a contract of this customer" in answer["message"]
    assert _deposits(server, customer) == []


def test_check_deposit_unknown_account(server: Server) -> None:
    answer = server.post(deposit_body("no-such-account", "C-1")).json()
    assert answer["code"] == 404
    assert server.rows("SELECT count(*) AS n FROM deposits WHERE customer_id = 'no-such-account'")[0]["n"] == 0


def test_check_deposit_bad_signature_stores_nothing(server: Server) -> None:
    customer, (contract,) = new_customer(server, {})
    payload = signed(deposit_body(customer, contract), SECRET)
    payload["amount"] = 100_001
    assert server.post(payload, sign=False).json()["code"] == 400
    assert _deposits(server, customer) == []


def test_seed_check_deposit_example(server: Server) -> None:
    case = next(c for c in load_vectors() if c["name"].startswith("check_deposit"))
    body = case["body"]
    seed(
        server.db_url,
        [{"customer_id": body["customer_id"]}],
        [
            {
                "id": body["entity_id"],
                "customer_id": body["customer_id"],
                "number": body["number"],
                "payment": 100_000,
                "min_payment": 100_000,
            }
        ],
    )
    for key in ("signature_natural", "signature_codepoint"):
        answer = server.post({**body, "signature": case[key]}, sign=False).json()
        assert answer["code"] == 0, answer
    assert len(_deposits(server, body["customer_id"])) == 2


# --- HTTP around the protocol --------------------------------------------------------------


def test_http_errors_for_what_is_not_a_protocol_message(server: Server) -> None:
    import httpx

    assert httpx.get(server.url + "/nowhere").status_code == 404
    wrong_method = httpx.get(server.url + "/kassa24")
    assert wrong_method.status_code == 405
    assert wrong_method.headers["allow"] == "POST"
    assert httpx.post(server.url + "/kassa24", content=b"x" * (64 * 1024 + 1)).status_code == 413
    assert httpx.get(server.url + "/healthz").json() == {"status": "ok"}


def test_traffic_records_every_exchange(server: Server) -> None:
    customer, (contract,) = new_customer(server, {})
    server.post(verify_body(customer))
    server.post(deposit_body(customer, contract, 100))
    deadline = time.monotonic() + 5
    rows: list = []
    while time.monotonic() < deadline and len(rows) < 2:
        rows = server.rows("SELECT * FROM traffic WHERE customer_id = ? ORDER BY id", customer)
        time.sleep(0.05)
    assert [(r["kind"], r["code"], r["signature_ok"], r["http_status"]) for r in rows] == [
        ("verify", 0, 1, 200),
        ("check_deposit", 0, 1, 200),
    ]
    assert rows[1]["amount"] == 100
    assert json.loads(rows[1]["request"])["customer_id"] == customer
    assert json.loads(rows[1]["response"])["code"] == 0
    assert rows[0]["peer"].startswith("127.0.0.1:")
