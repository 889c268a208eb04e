"""verify and check_deposit through serve's ASGI app (in-process, a real SQLite file), both response options."""

from __future__ import annotations

import json

import pytest
from payment_page_sdk.signature_handler import SignatureHandler

from kassa24_console.i18n import gettext_in
from kassa24_console.protocol.signature import signed
from tests.support.bodies import deposit_body, verify_body
from tests.support.common import PROJECT_ID, SECRET, load_vectors
from tests.support.inprocess import AppServer
from tests.support.seeding import new_customer, seed
from tests.support.waiting import wait_for


def _deposits(app_server: AppServer, customer: str) -> list:
    return app_server.rows("SELECT * FROM deposits WHERE customer_id = ?", customer)


def _error_text(app_server: AppServer, body: dict) -> str:
    """The error text: ``message`` always, and ``error_description`` too with option 1."""
    if app_server.option == 1:
        assert body["error_description"] == body["message"]
    return body["message"]


# --- verify --------------------------------------------------------------------------------


def test_verify_success(app_server: AppServer) -> None:
    customer, (c1, c2) = new_customer(
        app_server,
        {"payment": 450_000, "min_payment": 100_000, "info": {"customer_name": "Сейітова Ә.", "total_debt": 9}},
        {"payment": 0, "status_code": 206, "status_text": "blocked"},
    )
    response = app_server.post(verify_body(customer))
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == 0
    assert body["currency"] == "KZT"
    assert body["additional_customer_id"] == f"A{customer}"
    if app_server.option == 1:
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


def test_verify_nothing_due(app_server: AppServer) -> None:
    customer, _ = new_customer(app_server, {"payment": 0}, {"payment": 0})
    body = app_server.post(verify_body(customer)).json()
    if app_server.option == 1:
        assert body["code"] == 0  # option 1 does not speak of contracts
    else:
        assert body["code"] == 204
        assert [e["payment"] for e in body["entities"]] == [0, 0]


def test_verify_account_without_contracts_is_204_in_option2(app_server: AppServer) -> None:
    customer, _ = new_customer(app_server)
    assert app_server.post(verify_body(customer)).json()["code"] == (0 if app_server.option == 1 else 204)


def test_verify_unknown_account(app_server: AppServer) -> None:
    body = app_server.post(verify_body("no-such-account")).json()
    assert body["code"] == 404
    assert _error_text(app_server, body) == "Лицевой счёт не найден"  # customer_language: ru by default


def test_verify_bad_signature(app_server: AppServer) -> None:
    customer, _ = new_customer(app_server, {})
    payload = signed(verify_body(customer), SECRET)
    payload["customer_id"] = customer[:-1] + ("1" if customer[-1] != "1" else "2")
    body = app_server.post(payload, sign=False).json()
    assert body["code"] == 400
    assert body == {
        "code": 400,
        "message": "Ошибка подписи",
        **({"error_description": "Ошибка подписи"} if app_server.option == 1 else {}),
    }
    unsigned = app_server.post(verify_body(customer), sign=False).json()
    assert unsigned["code"] == 400


def test_verify_wrong_project(app_server: AppServer) -> None:
    customer, _ = new_customer(app_server, {})
    body = app_server.post(verify_body(customer, project_id=PROJECT_ID + 1)).json()
    assert body["code"] == 500
    assert "project_id" in _error_text(app_server, body)


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
def test_malformed_signed_requests_get_500_naming_the_field(app_server: AppServer, body: dict, reason: str) -> None:
    response = app_server.post(body)
    assert response.status_code == 200
    answer = response.json()
    assert answer["code"] == 500
    assert reason in _error_text(app_server, answer)
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
def test_non_json_bodies_get_500_with_a_message(app_server: AppServer, raw: bytes, reason: str) -> None:
    """The message is for the payer's terminal: in the customer's language (ru unless set)."""
    response = app_server.post(raw)
    assert response.status_code == 200
    assert response.json()["code"] == 500
    assert gettext_in("ru", reason) in response.json()["message"]


def test_seed_verify_example(app_server: AppServer) -> None:
    """The spec's verify example: its placeholder signature fails, the real one passes."""
    case = next(c for c in load_vectors() if c["name"].startswith("verify request"))
    seed(
        app_server.db_url,
        [{"customer_id": "7123456789", "additional_customer_id": "ABCDE12345"}],
        [{"id": "V-1", "customer_id": "7123456789", "number": "V/1", "payment": 100_000}],
    )
    placeholder = {**case["body"], "signature": "e19695449545fac562843ca06e7e0f3e51281ad6"}
    assert app_server.post(placeholder, sign=False).json()["code"] == 400
    for key in ("signature_natural", "signature_codepoint"):
        body = app_server.post({**case["body"], "signature": case[key]}, sign=False).json()
        assert body["code"] == 0
        assert body["additional_customer_id"] == "ABCDE12345"


def test_request_signed_by_the_platform_sdk(app_server: AppServer) -> None:
    customer, _ = new_customer(app_server, {})
    body = verify_body(customer)
    raw = json.dumps({**body, "signature": SignatureHandler(SECRET).sign(body)}).encode()
    assert app_server.post(raw).json()["code"] == 0
    # One changed byte anywhere in the signed content is refused.
    changed = customer[:-1] + ("1" if customer[-1] != "1" else "2")
    tampered = raw.replace(customer.encode(), changed.encode(), 1)
    assert tampered != raw
    assert app_server.post(tampered).json()["code"] == 400


# --- check_deposit -------------------------------------------------------------------------


def test_check_deposit_success_stores_a_pending_deposit(app_server: AppServer) -> None:
    customer, (contract,) = new_customer(app_server, {"payment": 500_000, "min_payment": 100_000})
    response = app_server.post(deposit_body(customer, contract, 250_000))
    body = response.json()
    assert body["code"] == 0
    assert body["payment_id"].startswith("k24_")
    assert body["description"] == "Успешно"
    if app_server.option == 1:
        assert body["customer_id"] == customer
    (row,) = _deposits(app_server, customer)
    assert (row["payment_id"], row["contract_id"], row["amount"], row["currency"], row["state"]) == (
        body["payment_id"],
        contract,
        250_000,
        "KZT",
        "pending",
    )
    again = app_server.post(deposit_body(customer, contract, 250_000)).json()
    assert again["payment_id"] != body["payment_id"]


def test_check_deposit_amount_as_digit_string(app_server: AppServer) -> None:
    customer, (contract,) = new_customer(app_server, {})
    body = app_server.post(deposit_body(customer, contract, "150000")).json()
    assert body["code"] == 0
    assert _deposits(app_server, customer)[0]["amount"] == 150_000


def test_check_deposit_option1_needs_no_contract(app_server: AppServer) -> None:
    customer, _ = new_customer(app_server, {})
    body = app_server.post(deposit_body(customer, None)).json()
    if app_server.option == 1:
        assert body["code"] == 0
        assert _deposits(app_server, customer)[0]["contract_id"] is None
    else:
        assert body["code"] == 500
        assert "missing field 'entity_id'" in body["message"]
        assert _deposits(app_server, customer) == []


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
def test_check_deposit_rejections(app_server: AppServer, change: dict, reason: str) -> None:
    contract_fields = {"payment": 500_000}
    if "_min" in change:
        contract_fields["min_payment"] = change["_min"]
    if "_status" in change:
        contract_fields["status_code"] = change["_status"]
    customer, (contract,) = new_customer(app_server, contract_fields)
    body = deposit_body(customer, contract)
    for key, value in change.items():
        if key.startswith("_"):
            continue
        if value is ...:
            body.pop(key)
        else:
            body[key] = value
    answer = app_server.post(body).json()
    assert answer["code"] == 500
    assert reason in _error_text(app_server, answer)
    assert "payment_id" not in answer
    assert _deposits(app_server, customer) == []


def test_check_deposit_foreign_contract(app_server: AppServer) -> None:
    _, (foreign,) = new_customer(app_server, {})
    customer, _ = new_customer(app_server, {})
    answer = app_server.post(deposit_body(customer, foreign)).json()
    assert answer["code"] == 500
    assert "is not a contract of this customer" in answer["message"]
    assert _deposits(app_server, customer) == []


def test_check_deposit_unknown_account(app_server: AppServer) -> None:
    answer = app_server.post(deposit_body("no-such-account", "C-1")).json()
    assert answer["code"] == 404
    assert app_server.rows("SELECT count(*) AS n FROM deposits WHERE customer_id = 'no-such-account'")[0]["n"] == 0


def test_check_deposit_bad_signature_stores_nothing(app_server: AppServer) -> None:
    customer, (contract,) = new_customer(app_server, {})
    payload = signed(deposit_body(customer, contract), SECRET)
    payload["amount"] = 100_001
    assert app_server.post(payload, sign=False).json()["code"] == 400
    assert _deposits(app_server, customer) == []


def test_seed_check_deposit_example(app_server: AppServer) -> None:
    case = next(c for c in load_vectors() if c["name"].startswith("check_deposit"))
    body = case["body"]
    seed(
        app_server.db_url,
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
        answer = app_server.post({**body, "signature": case[key]}, sign=False).json()
        assert answer["code"] == 0, answer
    assert len(_deposits(app_server, body["customer_id"])) == 2


# --- HTTP around the protocol --------------------------------------------------------------


def test_http_errors_for_what_is_not_a_protocol_message(app_server: AppServer) -> None:
    assert app_server.http.get(app_server.url + "/nowhere").status_code == 404
    wrong_method = app_server.http.get(app_server.url + "/kassa24")
    assert wrong_method.status_code == 405
    assert wrong_method.headers["allow"] == "POST"
    assert app_server.http.post(app_server.url + "/kassa24", content=b"x" * (64 * 1024 + 1)).status_code == 413
    assert app_server.http.get(app_server.url + "/healthz").json() == {"status": "ok"}


def test_traffic_records_every_exchange(app_server: AppServer) -> None:
    customer, (contract,) = new_customer(app_server, {})
    app_server.post(verify_body(customer))
    app_server.post(deposit_body(customer, contract, 100))
    sql = "SELECT * FROM traffic WHERE customer_id = ? ORDER BY id"
    rows = wait_for(lambda: len(found := app_server.rows(sql, customer)) >= 2 and found, 30, "two traffic rows")
    assert [(r["kind"], r["code"], r["signature_ok"], r["http_status"]) for r in rows] == [
        ("verify", 0, 1, 200),
        ("check_deposit", 0, 1, 200),
    ]
    assert rows[1]["amount"] == 100
    assert json.loads(rows[1]["request"])["customer_id"] == customer
    assert json.loads(rows[1]["response"])["code"] == 0
    assert rows[0]["peer"].startswith("127.0.0.1:")
