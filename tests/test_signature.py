"""The platform's signature: every published vector, both sort orders, the official signer."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from payment_page_sdk.signature_handler import SignatureHandler

from kassa24_console.protocol.signature import (
    Key,
    check,
    diagnose,
    natural_key,
    sign,
    signed,
    string_to_sign,
    verify,
)
from tests.support.common import DATA, load_vectors

# spec/platform.md §1, verbatim.
PLATFORM_VECTORS = [
    (
        "qwerty",
        '{"payment":{"id":"test-payment","status":"success"}}',
        "UGzKT0NC26f4u0niyJSQPx5q3kFFIndwLXeJVXahfCFwbY+Svg1WoXIxzrIyyjWUSLFhT8wAQ5SfBDRHnwm6Yg==",
    ),
    (
        "qwerty",
        '{"payment":{"id":"test-payment"}}',
        "yVp+lFVggXb0iitKgb49yfl/riUGRXMaTVCqiJTEbfkIt2PCpIR3vwyBg+SgtsoG4HTDdg9X7rxi0A1R/U2O5w==",
    ),
    (
        "qwerty",
        '{"payment":{"id":"test-payment","status":"success"},"some_bool_param":true,"frame_mode":"popup"}',
        "TZS0J65ReNUMgKzeXUey9xOGGyC7r4OhsFXt/3H8XZM2Le8Wot2E1NIjeSPOyV1F3sUU6F3kfo9om2dhbe3ieA==",
    ),
    (
        "qwerty",
        '{"payment":{"id":"test-payment"},"errors":[{"code":"123","message":"grand crash","description":'
        '["description-str",{"description1":1}]},{"code":"456","message":"minor crash","description":null}]}',
        "dxjnun8oySSl0CWlhhjy/k1V9CZcCtaHvu/Y5qJQbWHq8wd6TqTUt4bIfHrlWxT8ba9NOJfkgGHrGc5OgyQVGA==",
    ),
    (
        "secret",
        '{"payment":{"id":"000049","status":"success"}}',
        "/3TrhHVz9BHaLfgLyhoxO7dsQNzbzZa/TdO3pxQocXWwgVM6tGlzMLVfpOxFNTnkR9iiFVK/77ZedMcbkCjmng==",
    ),
]


@pytest.mark.parametrize(("secret", "body", "expected"), PLATFORM_VECTORS)
def test_platform_vectors(secret: str, body: str, expected: str) -> None:
    data = json.loads(body)
    assert sign(data, secret) == expected
    assert verify({**data, "signature": expected}, secret)


def test_platform_string_to_sign_vector() -> None:
    # The last row of the table gives the string itself; it must hash to the given signature.
    from kassa24_console.protocol.signature import Key

    text = "customer_id:5;payment_amount:30;payment_currency:RUB;payment_id:payment1;project_id:115"
    body = {
        "customer_id": 5,
        "payment_amount": 30,
        "payment_currency": "RUB",
        "payment_id": "payment1",
        "project_id": 115,
    }
    assert string_to_sign(body) == text
    expected = "pVmAtGFBQJD2NgLToP1B2elR4QROiYGi3IobPD9PFDfrkjBqdSCFgrVSEtebVJUzOUUHX5tPnHQq9RMn61679A=="
    assert Key("12345").digest(text) == expected


@pytest.mark.parametrize("case", load_vectors(), ids=lambda c: c["name"])
def test_method_vectors(case: dict) -> None:
    body, secret = case["body"], case["secret"]
    assert string_to_sign(body, natural=True) == case["string_to_sign_natural"]
    assert sign(body, secret) == case["signature_natural"]
    assert verify({**body, "signature": case["signature_natural"]}, secret)
    assert verify({**body, "signature": case["signature_codepoint"]}, secret)
    assert not verify({**body, "signature": case["signature_natural"]}, secret + "x")


def test_orders_differ_only_past_nine() -> None:
    assert natural_key("items:2") < natural_key("items:10")
    assert "items:10" < "items:2"
    body = {"items": [str(i) for i in range(12)]}
    assert string_to_sign(body, natural=True) != string_to_sign(body, natural=False)


def test_signature_in_general_is_removed_and_checked() -> None:
    body = {"general": {"project_id": 1, "payment_id": "x"}, "payment": {"status": "success"}}
    sig = sign(body, "k")
    assert verify({"general": {**body["general"], "signature": sig}, "payment": body["payment"]}, "k")


@pytest.mark.parametrize("bad", [None, "", 123, "not-base64", ["x"]])
def test_missing_or_malformed_signature_is_refused(bad: object) -> None:
    assert not verify({"type": "verify", "signature": bad}, "k")
    assert not verify({"type": "verify"}, "k")


def test_official_python_signer_agrees() -> None:
    """The platform's own Python SDK (jetpay-sdk) signs what we verify, and vice versa."""
    body = {
        "type": "check_deposit",
        "project_id": 1234,
        "customer_id": "123456789",
        "entity_id": "12345",
        "number": "1234_ABC/01-01-2025/Abcdef12",
        "amount": 1000000,
        "currency": "KZT",
        "payment_method": "kassa24",
        "flag": True,
        "empty": None,
    }
    theirs = SignatureHandler("k24-test-secret").sign(body)
    assert verify({**body, "signature": theirs}, "k24-test-secret")
    assert signed(body, "k24-test-secret")["signature"] == theirs


# --- every official signer (tests/data/sdk-vectors.json, copied from the spec) -----------------

SDK = json.loads((DATA / "sdk-vectors.json").read_text())


def _sdk_cases() -> list[tuple[str, str, dict]]:
    return [
        (case["name"], signer, case)
        for case in SDK["cases"]
        for signer, result in case["signers"].items()
        if result.get("signature")
    ]


def _with_signature(case: dict, value: str) -> dict:
    body = json.loads(case["body"])
    if "general" in body and case["name"].startswith("cb general"):
        body["general"] = {**body["general"], "signature": value}
    else:
        body["signature"] = value
    return body


@pytest.mark.parametrize(("name", "signer", "case"), _sdk_cases(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_official_signer_is_accepted_or_refused_as_marked(name: str, signer: str, case: dict) -> None:
    result = case["signers"][signer]
    outcome = check(_with_signature(case, result["signature"]), SDK["secret"])
    assert outcome.ok == result["must_accept"], (name, signer, outcome.tried)


@pytest.mark.parametrize("case", SDK["cases"], ids=lambda c: c["name"])
def test_a_one_byte_change_to_an_accepted_body_is_refused(case: dict) -> None:
    accepted = {r["signature"] for r in case["signers"].values() if r.get("must_accept") and r.get("signature")}
    text = case["body"]
    changed = text.replace("4242", "4243", 1)  # one byte of the project id
    assert changed != text
    for value in accepted:
        body = _with_signature({**case, "body": changed}, value)
        assert not check(body, SDK["secret"]).ok


def test_the_form_that_matched_is_named() -> None:
    body = {"payment": {"id": "p", "status": "success", "rate": 10.0, "meta": {"a": "x"}}}
    php_like = Key("k").digest("payment:id:p;payment:meta:a:x;payment:rate:10;payment:status:success")
    outcome = check({**body, "signature": php_like}, "k")
    assert outcome.form == "natural+integral-floats"
    assert outcome.tried[0] == "natural"


def test_a_key_holding_a_colon_is_accepted_escaped_only() -> None:
    """One signature, one body: the unescaped form could stand for another body."""
    body = {"payment": {"id": "p", "meta": {"a:b": "x"}}}
    unescaped = Key("k").digest("payment:id:p;payment:meta:a:b:x")
    outcome = check({**body, "signature": unescaped}, "k")
    assert not outcome.ok and all("unescaped" not in form for form in outcome.tried)
    assert check(signed(body, "k"), "k").form == "natural"


def test_ordinary_bodies_cost_one_form() -> None:
    body = {"type": "verify", "project_id": 1, "customer_id": "x", "signature": "A" * 86 + "=="}
    assert check(body, "k").tried == ("natural",)


def test_the_diagnosis_masks_values_and_never_holds_the_secret() -> None:
    body = {"type": "verify", "project_id": 1234, "customer_id": "7012345678", "signature": "A" * 86 + "=="}
    text = diagnose(body, check(body, "s3cret-key"), key_works_elsewhere=True)
    assert "body was likely changed" in text and "customer_id:…" in text
    assert "7012345678" not in text and "s3cret" not in text
    assert "secret key likely differs" in diagnose(body, check(body, "s3cret-key"), key_works_elsewhere=False)
    assert "not a Base64 HMAC" in diagnose({**body, "signature": "nope"}, check({**body, "signature": "x"}, "k"), True)


def test_the_python_sdks_callback_class_form_is_accepted() -> None:
    """jetpay-sdk's Callback strips every nested ``signature`` before checking: a body it
    signs that way (fresh, here) is accepted, and the form is named."""
    body = {
        "project_id": 1234,
        "payment": {"id": "p-nested", "status": "success"},
        "operation": {"id": 7, "status": "success", "provider": {"id": 1, "signature": "provider's own"}},
    }
    stripped = {**body, "operation": {**body["operation"], "provider": {"id": 1}}}
    theirs = SignatureHandler("k24-test-secret").sign(stripped)
    outcome = check({**body, "signature": theirs}, "k24-test-secret")
    assert outcome.ok and outcome.form == "natural+nested-signature-stripped"
    assert not check({**body, "signature": theirs}, "another-secret").ok


_any_text = st.characters(blacklist_categories=())  # lone surrogates and NUL too
_flat_keys = st.text(alphabet=_any_text, min_size=1, max_size=12)
_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False), st.text(alphabet=_any_text, max_size=30),
)  # fmt: skip


@given(st.dictionaries(_flat_keys, _scalars, max_size=8))
def test_the_flat_path_signs_exactly_what_the_general_walk_does(body: dict) -> None:
    """verify and check_deposit skip the general walk; where they may, the string they
    sign is the spec form's, to the character (any other body takes the walk)."""
    from kassa24_console.protocol.signature import SPEC_FORM, Canonical, _flat_text

    flat = _flat_text(body)
    if flat is not None:
        assert flat == Canonical(body).text(SPEC_FORM)
    assert check(signed(body, "k"), "k").ok


_plain_keys = st.sampled_from(
    ["id", "type", "payment", "sum", "amount", "general", "signature", "frame_mode", "a-b", "a"]
)
_nested = st.recursive(
    _scalars, lambda inner: st.dictionaries(_plain_keys | _flat_keys, inner, max_size=5), max_leaves=20
)


@given(st.dictionaries(_plain_keys | _flat_keys, _nested, max_size=6))
def test_the_plain_path_signs_nested_bodies_exactly_as_the_general_walk(body: dict) -> None:
    """A callback (objects in objects) skips the general walk too, to the character."""
    from kassa24_console.protocol.signature import SPEC_FORM, Canonical, _flat_text

    flat = _flat_text(body)
    if flat is not None:
        assert flat == Canonical(body).text(SPEC_FORM)
    assert check(signed(body, "k"), "k").ok
