"""Callbacks and the full payment cycle through serve's ASGI app, in-process on a real SQLite file."""

from __future__ import annotations

import json

import pytest

from kassa24_console.protocol.signature import signed
from tests.support.bodies import callback_body, deposit_body, verify_body
from tests.support.common import SECRET, load_vectors
from tests.support.inprocess import AppServer
from tests.support.seeding import new_customer


def _pay(server: AppServer, due: int = 500_000, amount: int = 200_000) -> tuple[str, str, str]:
    customer, (contract,) = new_customer(server, {"payment": due})
    payment_id = server.post(deposit_body(customer, contract, amount)).json()["payment_id"]
    return customer, contract, payment_id


def _due(server: AppServer, contract: str) -> int:
    return server.rows("SELECT payment FROM contracts WHERE id = ?", contract)[0]["payment"]


def _deposit(server: AppServer, payment_id: str):
    return server.rows("SELECT * FROM deposits WHERE payment_id = ?", payment_id)[0]


def _callbacks(server: AppServer, payment_id: str) -> list:
    return server.rows("SELECT * FROM callbacks WHERE payment_id = ? ORDER BY id", payment_id)


def _mismatches(server: AppServer, kind: str, payment_id: str | None = None) -> list:
    if payment_id is None:
        return server.rows("SELECT * FROM mismatches WHERE kind = ?", kind)
    return server.rows("SELECT * FROM mismatches WHERE kind = ? AND payment_id = ?", kind, payment_id)


def test_full_cycle_with_duplicate_and_conflicting_callbacks(app_server2: AppServer) -> None:
    server = app_server2
    customer, (contract,) = new_customer(server, {"payment": 500_000, "min_payment": 100_000})
    verify = server.post(verify_body(customer)).json()
    assert verify["code"] == 0 and verify["entities"][0]["payment"] == 500_000

    payment_id = server.post(deposit_body(customer, contract, 200_000)).json()["payment_id"]
    assert _deposit(server, payment_id)["state"] == "pending"

    success = callback_body(payment_id, "success", 200_000, operation_id=28)
    first = server.post(success, path="/kassa24/callback")
    assert first.status_code == 200
    assert first.json()["outcome"] == "applied"
    assert _deposit(server, payment_id)["state"] == "paid"
    assert _deposit(server, payment_id)["paid_amount"] == 200_000
    assert _due(server, contract) == 300_000
    assert server.post(verify_body(customer)).json()["entities"][0]["payment"] == 300_000

    # The platform repeats the same callback: acknowledged, counted, not applied twice.
    again = server.post(success, path="/kassa24/callback")
    assert again.status_code == 200 and again.json()["outcome"] == "duplicate"
    assert _due(server, contract) == 300_000
    (row,) = _callbacks(server, payment_id)
    assert row["deliveries"] == 2 and row["signature_ok"] == 1 and row["deposit_id"] == payment_id

    # A later, different final status is kept and flagged, never applied.
    decline = callback_body(payment_id, "decline", 200_000, operation_id=29)
    conflict = server.post(decline, path="/kassa24/callback")
    assert conflict.status_code == 200 and conflict.json()["outcome"] == "conflict"
    assert _deposit(server, payment_id)["state"] == "paid"
    assert _due(server, contract) == 300_000
    assert [r["outcome"] for r in _callbacks(server, payment_id)] == ["applied", "conflict"]
    (flagged,) = _mismatches(server, "conflicting_status", payment_id)
    assert json.loads(flagged["evidence"]) == {"deposit_state": "paid", "callback_statuses": ["decline", "success"]}
    # Raw bodies are kept verbatim.
    assert json.loads(_callbacks(server, payment_id)[1]["raw"])["operation"]["id"] == 29


def test_due_never_goes_below_zero(app_server2: AppServer) -> None:
    _, contract, payment_id = _pay(app_server2, due=100_000, amount=300_000)
    assert app_server2.post(callback_body(payment_id, amount=300_000), path="/kassa24/callback").status_code == 200
    assert _due(app_server2, contract) == 0


def test_declined_payment_changes_nothing_due(app_server2: AppServer) -> None:
    _, contract, payment_id = _pay(app_server2)
    answer = app_server2.post(callback_body(payment_id, "decline", 200_000), path="/kassa24/callback")
    assert answer.status_code == 200 and answer.json()["outcome"] == "applied"
    assert _deposit(app_server2, payment_id)["state"] == "failed"
    assert _due(app_server2, contract) == 500_000
    # Success after decline is a conflict too: flagged, not applied.
    late = app_server2.post(callback_body(payment_id, "success", 200_000, operation_id=2), path="/kassa24/callback")
    assert late.json()["outcome"] == "conflict"
    assert _due(app_server2, contract) == 500_000


def test_out_of_order_non_final_status_does_not_undo(app_server2: AppServer) -> None:
    _, contract, payment_id = _pay(app_server2)
    app_server2.post(callback_body(payment_id, "success", 200_000, operation_id=5), path="/kassa24/callback")
    late = app_server2.post(callback_body(payment_id, "processing", 200_000, operation_id=5), path="/kassa24/callback")
    assert late.status_code == 200 and late.json()["outcome"] == "recorded"
    assert _deposit(app_server2, payment_id)["state"] == "paid"
    assert _due(app_server2, contract) == 300_000


def test_amount_differing_from_the_deposit_is_flagged(app_server2: AppServer) -> None:
    _, contract, payment_id = _pay(app_server2, amount=200_000)
    app_server2.post(callback_body(payment_id, "success", 150_000), path="/kassa24/callback")
    assert _deposit(app_server2, payment_id)["paid_amount"] == 150_000
    assert _due(app_server2, contract) == 350_000
    (flagged,) = _mismatches(app_server2, "amount_mismatch", payment_id)
    assert json.loads(flagged["evidence"]) == {
        "deposit": {"amount": 200_000, "currency": "KZT"},
        "callback": {"amount": 150_000, "currency": "KZT"},
    }


def test_currency_differing_is_not_applied(app_server2: AppServer) -> None:
    _, contract, payment_id = _pay(app_server2)
    answer = app_server2.post(callback_body(payment_id, "success", 200_000, currency="USD"), path="/kassa24/callback")
    assert answer.json()["outcome"] == "conflict"
    assert _deposit(app_server2, payment_id)["state"] == "pending"
    assert _due(app_server2, contract) == 500_000
    assert len(_mismatches(app_server2, "currency_mismatch", payment_id)) == 1


def test_unknown_payment_id_is_stored_and_flagged(app_server2: AppServer) -> None:
    answer = app_server2.post(callback_body("k24_never_issued"), path="/kassa24/callback")
    assert answer.status_code == 200 and answer.json()["outcome"] == "unknown_payment"
    assert len(_callbacks(app_server2, "k24_never_issued")) == 1
    assert len(_mismatches(app_server2, "unknown_payment", "k24_never_issued")) == 1


def test_bad_signature_callback_is_refused_stored_and_flagged(app_server2: AppServer) -> None:
    _, contract, payment_id = _pay(app_server2)
    payload = signed(callback_body(payment_id), SECRET)
    payload["payment"]["sum"]["amount"] = 9_999_999
    answer = app_server2.post(payload, sign=False, path="/kassa24/callback")
    assert answer.status_code == 400
    assert _deposit(app_server2, payment_id)["state"] == "pending"
    assert _due(app_server2, contract) == 500_000
    (row,) = _callbacks(app_server2, payment_id)
    assert row["signature_ok"] == 0 and row["outcome"] == "rejected"
    assert len(_mismatches(app_server2, "bad_signature", payment_id)) == 1
    # The same forged body again is counted, not stored twice.
    app_server2.post(payload, sign=False, path="/kassa24/callback")
    assert _callbacks(app_server2, payment_id)[0]["deliveries"] == 2


@pytest.mark.parametrize(
    ("raw", "status"),
    [(b"", 400), (b"{not json", 400), (b"[]", 400)],
)
def test_unparseable_callback_is_400(app_server2: AppServer, raw: bytes, status: int) -> None:
    assert app_server2.post(raw, path="/kassa24/callback").status_code == status


def test_signed_callback_missing_fields_is_400(app_server2: AppServer) -> None:
    body = callback_body("k24_x")
    del body["operation"]["id"]
    answer = app_server2.post(body, path="/kassa24/callback")
    assert answer.status_code == 400
    assert "operation.id" in answer.json()["error"]


def test_callback_for_another_project_is_400(app_server2: AppServer) -> None:
    _, _, payment_id = _pay(app_server2)
    answer = app_server2.post(callback_body(payment_id, project_id=999), path="/kassa24/callback")
    assert answer.status_code == 400
    assert _deposit(app_server2, payment_id)["state"] == "pending"


def test_callback_shaped_body_on_the_merchant_url(app_server2: AppServer) -> None:
    _, contract, payment_id = _pay(app_server2)
    answer = app_server2.post(callback_body(payment_id, amount=200_000, extra_field={"kept": True}))
    assert answer.status_code == 200 and answer.json()["outcome"] == "applied"
    assert _due(app_server2, contract) == 300_000
    assert json.loads(_callbacks(app_server2, payment_id)[0]["raw"])["extra_field"] == {"kept": True}


def test_seed_callback_example(app_server2: AppServer) -> None:
    case = next(c for c in load_vectors() if c["name"].startswith("success callback"))
    for key in ("signature_natural", "signature_codepoint"):
        answer = app_server2.post({**case["body"], "signature": case[key]}, sign=False, path="/kassa24/callback")
        assert answer.status_code == 200
    (row,) = _callbacks(app_server2, "payment_47")
    assert row["outcome"] == "unknown_payment" and row["deliveries"] == 2 and row["amount"] == 10000
