"""One signature, one body (spec/platform.md §1): no accepted form lets a second body that
says something else pass with the first body's signature; the signers' other spellings and
orders are accepted under that rule."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kassa24_console.protocol.signature import SPEC_FORM, Canonical, Key, check, natural_key, sign, signed
from kassa24_console.protocol.spellings import java_number, js_number, php_natural_key, php_number, strnatcmp
from tests.support.bodies import callback_body, deposit_body
from tests.support.common import DATA, SECRET
from tests.support.inprocess import AppServer
from tests.support.seeding import new_customer

# --- the reshaped callback -----------------------------------------------------------------------


def _reshaped(body: dict[str, Any], other: str) -> dict[str, Any]:
    """The issue's attack: payment.id set to another payment, the description shortened and a
    top-level ``payment:id`` key holding the original id: with ``:`` unescaped, the string to
    sign is the original's to the character."""
    original = body["payment"]["id"]
    payment = {**body["payment"], "id": other, "description": body["payment"]["description"].split(";")[0]}
    return {**body, "payment": payment, "payment:id": original}


def _unescaped(body: dict[str, Any]) -> str:
    """The string a signer that leaves ``:`` in keys unescaped builds (natural order)."""
    entries: list[tuple[str, str]] = []

    def walk(node: Any, path: str) -> None:
        for key, value in node.items():
            full = f"{path}:{key}" if path else key
            if isinstance(value, dict):
                walk(value, full)
            else:
                entries.append((full, str(value)))

    walk(body, "")
    return ";".join(f"{p}:{v}" for p, v in sorted(entries, key=lambda e: natural_key(e[0])))


def test_the_reshaped_callback_would_sign_alike_without_escaping() -> None:
    body = callback_body("X-1", description="")
    body["payment"]["description"] = "deposit;payment:id:Y-2"
    reshaped = _reshaped(body, "Y-2")
    assert _unescaped(reshaped) == Canonical(body).text(SPEC_FORM)  # the ambiguity is real
    outcome = check({**reshaped, "signature": sign(body, "k")}, "k")
    assert not outcome.ok and not any("unescaped" in form for form in outcome.tried)


def test_a_reshaped_callback_credits_nothing(app_server2: AppServer) -> None:
    server = app_server2
    customer, (contract,) = new_customer(server, {"payment": 500_000})
    x = server.post(deposit_body(customer, contract, 100_000)).json()["payment_id"]
    y = server.post(deposit_body(customer, contract, 100_000)).json()["payment_id"]
    body = callback_body(x, amount=100_000)
    body["payment"]["description"] = f"deposit;payment:id:{y}"
    attack = {**_reshaped(body, y), "signature": sign(body, SECRET)}
    answer = server.post(json.dumps(attack).encode(), path="/kassa24/callback")
    assert answer.status_code == 400
    states = {r["payment_id"]: r["state"] for r in server.rows("SELECT payment_id, state FROM deposits")}
    assert states[x] == states[y] == "pending"
    assert server.rows("SELECT payment FROM contracts WHERE id = ?", contract)[0][0] == 500_000


# --- the property: two bodies, one accepted string, the same meaning --------------------------

_NUMERIC = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def _number_text(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


def _meaning(body: dict[str, Any], *, strip: bool = False) -> str:
    """What a body says, as far as a signature can say it: the spec form's entries (in any
    order: orders only permute one body's entries) with each
    token between ``:`` and ``;`` that reads as a number written once by value (``10.0``,
    ``1.0E+20``: how a signer spells a number), ``None`` as null is written; with ``strip``,
    nested ``signature`` keys left out (the SDKs' Callback classes strip them, so two bodies
    that differ only there say the same). Where the spec form itself gives two bodies one
    string, so does this: what is measured is what the other forms add."""

    def walk(node: Any, depth: int) -> Any:
        if isinstance(node, dict):
            return {k: walk(v, depth + 1) for k, v in node.items() if not (strip and depth and k == "signature")}
        return [walk(v, depth + 1) for v in node] if isinstance(node, list) else node

    def token(match: re.Match[str]) -> str:
        text = match.group(0)
        if text == "None":
            return ""
        if _NUMERIC.fullmatch(text) and not text.isdigit():
            return _number_text(float(text))
        return text

    text = re.sub(r"[^:;]+", token, Canonical(walk(body, 0)).text(SPEC_FORM))
    return ";".join(sorted(text.split(";")))


def _alike(one: dict[str, Any], two: dict[str, Any]) -> bool:
    """The same meaning, nested ``signature`` keys counted or not on either side."""
    return bool({_meaning(one), _meaning(one, strip=True)} & {_meaning(two), _meaning(two, strip=True)})


_keys = st.sampled_from(["a", "b", "a:b", ":", "01", "1", "a  b", "a b", "x;a", "signature"])
_values = st.sampled_from([None, 10.0, 1.5e-7, -0.0, "", "x", "None", "10", "b:x", "x;a:x", "1.0E+20", "-0"])
_bodies = st.recursive(
    _values, lambda inner: st.dictionaries(_keys, inner, max_size=3) | st.lists(inner, max_size=2), max_leaves=5
).filter(lambda b: isinstance(b, dict))


def _accepted(body: dict[str, Any]) -> set[str]:
    return {text for _, text in Canonical(body).candidates()}


_atoms = st.sampled_from(["a", "b", "1", "01", "x", "None", "10", "1.0E+20", "1.5E-7", "-0", "a  b", "signature"])


@st.composite
def _body_of(draw: st.DrawFn, entries: list[list[str]]) -> dict[str, Any]:
    """A body whose entries read, with ``:`` left unescaped, as ``entries``: each entry's
    parts split between keys and value at a drawn place, keys drawn from joined parts,
    a numeric value drawn as a number or text, ``None`` as null or text."""
    body: dict[str, Any] = {}
    for parts in entries:
        cut = draw(st.integers(1, len(parts) - 1))
        keys: list[str] = []
        for part in parts[:cut]:
            if keys and draw(st.booleans()):
                keys[-1] += ":" + part
            else:
                keys.append(part)
        value: Any = ":".join(parts[cut:])
        if value == "None" and draw(st.booleans()):
            value = None
        elif _NUMERIC.fullmatch(value) and draw(st.booleans()):
            value = float(value)
        node = body
        for key in keys[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                break
        else:
            node.setdefault(keys[-1], value)
    return body


@st.composite
def _two_bodies(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    entries = draw(st.lists(st.lists(_atoms, min_size=2, max_size=4), min_size=1, max_size=4))
    return draw(_body_of(entries)), draw(_body_of(entries))


@settings(max_examples=1500, deadline=None)
@given(_two_bodies())
def test_no_two_bodies_that_say_different_things_share_an_accepted_string(pair: tuple[dict, dict]) -> None:
    """Two bodies drawn from the same entries (so that a form could read them alike)."""
    one, two = pair
    if _accepted(one) & _accepted(two):
        assert _alike(one, two), (one, two)


@settings(max_examples=300, deadline=None)
@given(st.lists(_bodies, min_size=2, max_size=40))
def test_no_two_bodies_of_a_batch_share_an_accepted_string_unless_alike(bodies: list[dict]) -> None:
    """Every pair of a batch of small bodies (``:`` and ``;`` in keys and values, digit
    runs, spaces, numbers and their other spellings)."""
    first_by_string: dict[str, dict] = {}
    for body in bodies:
        for text in _accepted(body):
            first = first_by_string.setdefault(text, body)
            assert _alike(first, body), (first, body, text)


@settings(max_examples=500, deadline=None)
@given(_bodies)
def test_every_candidate_of_a_body_is_accepted_with_its_signature(body: dict) -> None:
    key = Key("k")
    for variant, text in Canonical(body).candidates():
        assert check({**body, "signature": key.digest(text)}, key).form == variant.name


# --- the signers' spellings and orders -----------------------------------------------------------


def test_php_natural_order_matches_strnatcmp() -> None:
    assert sorted(["n1", "n01", "n001", "n10", "n2"], key=php_natural_key) == ["n001", "n01", "n1", "n2", "n10"]
    assert strnatcmp("a  b", "a b") == 0 and strnatcmp("a b", "a c") < 0
    assert strnatcmp("x9", "x10") < 0 and strnatcmp("007", "7") == 0


def test_number_spellings_of_the_signers() -> None:
    assert [php_number(v) for v in (1.5e-7, 1e20, -0.0, 10.0, 0.1)] == ["1.5E-7", "1.0E+20", "-0", "10", "0.1"]
    assert php_number(0.30000000000000004) is None  # 14 digits would sign another value
    js = ["1.5e-7", "100000000000000000000", "1e+21", "0", "10"]
    assert [js_number(v) for v in (1.5e-7, 1e20, 1e21, -0.0, 10.0)] == js
    assert [java_number(v) for v in (1.5e-7, 1e20, -0.0, 10.0, 1e-4)] == ["1.5E-7", "1.0E20", "-0.0", "10.0", "1.0E-4"]


def _php_text(body: dict[str, Any]) -> str:
    """What PHP's signer builds: flat paths in strnatcmp order, floats as (string) does."""
    entries = {}

    def walk(node: Any, path: str) -> None:
        for key, value in node.items() if isinstance(node, dict) else enumerate(node):
            full = f"{path}:{key}" if path else str(key)
            if isinstance(value, dict | list):
                walk(value, full)
            else:
                text = php_number(value) if isinstance(value, float) else value
                entries[full] = f"{full}:{'1' if value is True else text}"

    walk(body, "")
    return ";".join(entries[k] for k in sorted(entries, key=php_natural_key))


def _js_text(body: dict[str, Any]) -> str:
    """What the JS signer builds: each level's keys sorted by UTF-16 units, integer-like first."""

    def key(k: str) -> tuple[int, Any]:
        return (0, int(k)) if re.fullmatch(r"0|[1-9]\d*", k) else (1, k.encode("utf-16-be", "surrogatepass"))

    def walk(node: dict[str, Any], path: str) -> list[str]:
        out = []
        for k in sorted(node, key=key):
            value, full = node[k], f"{path}:{k}" if path else k
            if isinstance(value, dict):
                out += walk(value, full)
            else:
                out.append(f"{full}:{js_number(value) if isinstance(value, float) else value}")
        return out

    return ";".join(walk(body, ""))


SPELLING_BODIES = [
    {"payment": {"id": "p1", "status": "success"}, "info": {"n1": "c", "n01": "b", "n001": "a"}},
    {"payment": {"id": "p2"}, "info": {"a  c": "1", "a b": "2", "a b 0": "3"}},
    {"payment": {"id": "p3"}, "operation": {"rate": 1.5e-7}},
    {"payment": {"id": "p4"}, "operation": {"rate": 1e20}},
    {"payment": {"id": "p5"}, "operation": {"rate": -0.0}},
    {"payment": {"id": "p6"}, "extra": {"!": "x", "10": "y", "2": "z", "a": "w"}},
    {"payment": {"id": "p7"}, "extra": {"\U0001f600": "astral", "\uff5e": "bmp"}},
]


def test_php_and_js_spellings_are_accepted_and_a_changed_value_is_not() -> None:
    for body in SPELLING_BODIES:
        texts = {build: build(body) for build in (_php_text, _js_text)}
        assert set(texts.values()) != {Canonical(body).text(SPEC_FORM)}  # a spelling of its own
        for build, text in texts.items():
            signature = Key(SECRET).digest(text)
            assert check({**body, "signature": signature}, SECRET).ok, (build.__name__, body, text)
            changed = json.loads(json.dumps(body).replace('"p', '"q', 1))
            assert not check({**changed, "signature": signature}, SECRET).ok


def test_a_spelling_that_does_not_hold_the_value_is_refused() -> None:
    body = {"payment": {"id": "p"}, "rate": 0.30000000000000004}
    assert not check({**body, "signature": Key("k").digest("payment:id:p;rate:0.3")}, "k").ok
    assert check(signed(body, "k"), "k").ok


# --- the official signers, run (tests/data/signer-spellings.json) --------------------------------

SPELLINGS = json.loads((DATA / "signer-spellings.json").read_text())


def _spelling_cases() -> list[tuple[str, str, dict]]:
    return [(case["name"], signer, case) for case in SPELLINGS["cases"] for signer in case["signers"]]


@pytest.mark.parametrize(("name", "signer", "case"), _spelling_cases(), ids=lambda v: v if isinstance(v, str) else "")
def test_the_official_signers_spellings_are_accepted_or_refused_as_marked(name: str, signer: str, case: dict) -> None:
    """PHP's natural order and float text, JS's key order and Number text, as the official
    SDKs at HEAD produce them; a value a signer rounded is refused."""
    result = case["signers"][signer]
    body = json.loads(case["body"])
    outcome = check({**body, "signature": result["signature"]}, SPELLINGS["secret"])
    assert outcome.ok == result["must_accept"], (name, signer, outcome.tried)
    if outcome.ok:  # one byte of the payment id changed: refused
        body["payment"]["id"] += "x"
        assert not check({**body, "signature": result["signature"]}, SPELLINGS["secret"]).ok


def test_the_spellings_differ_from_the_spec_form_where_they_are_meant_to() -> None:
    """The vectors exercise what they claim: at least 17 signer × body pairs sign a string
    other than the spec form's and are accepted."""
    differing = [
        (case["name"], signer)
        for case in SPELLINGS["cases"]
        for signer, result in case["signers"].items()
        if result["must_accept"] and result["string_to_sign"] != Canonical(json.loads(case["body"])).text(SPEC_FORM)
    ]
    assert len(differing) >= 17, differing
