"""Bad input, faults and people who are not the platform: nothing lost, no one let in."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import threading
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kassa24_console.protocol.signature import signed
from tests.support.bodies import callback_body, deposit_body, verify_body
from tests.support.cli import run_cli
from tests.support.common import SECRET
from tests.support.endpoint import Endpoint
from tests.support.inprocess import start_app
from tests.support.seeding import new_customer
from tests.support.serve import start_serve
from tests.support.streams import stream_payments
from tests.support.waiting import wait_for

PROTOCOL_CODES = {0, 204, 400, 404, 500}


# --- input: generated bodies against the real listener -------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=50)
    | st.sampled_from(["\ud800", "\x00", "a\udfffb\x00"])  # lone surrogates and NUL: sent as \u escapes
    | st.integers(min_value=10**18, max_value=10**30),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=20,
)
fields = ["type", "project_id", "customer_id", "amount", "currency", "payment_method", "entity_id", "number"]
messages = st.fixed_dictionaries(
    {"type": st.sampled_from(["verify", "check_deposit", "refund", "", None])},
    optional={name: json_values | st.text(max_size=300) | st.integers(-(10**9), 10**9) for name in fields[1:]},
)


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory):
    server = start_app(tmp_path_factory.mktemp("fuzz"), KASSA24_UNVERIFIED_BUDGET="0")  # budget: its own test
    new_customer(server, {"payment": 10_000})
    yield server, server.http
    server.stop()


def _counts(server: Endpoint) -> tuple[int, ...]:
    return tuple(server.rows(f"SELECT count(*) AS n FROM {t}")[0]["n"] for t in ("accounts", "contracts", "deposits"))


def _check_answer(response: httpx.Response, path: str) -> None:
    assert response.status_code < 500, response.text
    assert "Traceback" not in response.text
    body = response.json()  # always JSON
    if path == "/kassa24" and response.status_code == 200 and "code" in body:
        assert body["code"] in PROTOCOL_CODES
        assert body["code"] == 0 or isinstance(body.get("message"), str)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow], deadline=None)
@given(body=json_values, path=st.sampled_from(["/kassa24", "/kassa24/callback"]))
def test_any_json_gets_a_protocol_answer_or_a_4xx(target, body, path) -> None:
    server, client = target
    before = _counts(server)
    _check_answer(client.post(path, content=json.dumps(body).encode()), path)
    assert _counts(server) == before


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow], deadline=None)
@given(message=messages)
def test_signed_messages_with_wrong_types_get_a_message_naming_the_field(target, message) -> None:
    server, client = target
    before = _counts(server)
    payload = json.dumps(signed({k: v for k, v in message.items()}, SECRET)).encode()
    response = client.post("/kassa24", content=payload, headers={"content-type": "application/json"})
    _check_answer(response, "/kassa24")
    assert response.json()["code"] in (404, 500)  # no such customer, or a malformed field
    assert _counts(server) == before


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow], deadline=None)
@given(
    raw=st.binary(max_size=2000),
    content_type=st.sampled_from(["application/json", "text/plain", ""]),
    path=st.sampled_from(["/kassa24", "/kassa24/callback"]),
)
def test_any_bytes_with_any_content_type(target, raw, content_type, path) -> None:
    server, client = target
    before = _counts(server)
    _check_answer(client.post(path, content=raw, headers={"content-type": content_type}), path)
    assert _counts(server) == before


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 100_000 + b"]" * 100_000,  # deep nesting
        b'{"a":' * 900 + b"1" + b"}" * 900,  # nesting that parses but is deep
        b'{"type": "verify", "type": "check_deposit"}',  # duplicate keys
        b'{"amount": ' + b"9" * 5000 + b"}",  # a number too long to be one
        b'{"customer_id": "' + b"x" * 60_000 + b'"}',  # a very long string
        b"\xed\xa0\x80",  # invalid UTF-8 (a lone surrogate)
        b"",
    ],
    ids=["deep", "deep-parses", "duplicate-keys", "huge-number", "long-string", "invalid-utf8", "empty"],
)
def test_hostile_bodies(target, raw: bytes) -> None:
    server, client = target
    before = _counts(server)
    for path in ("/kassa24", "/kassa24/callback"):
        _check_answer(client.post(path, content=raw), path)
    assert _counts(server) == before
    assert client.get("/healthz").status_code == 200  # and it is still well


# --- limits: slow clients do not starve real ones ------------------------------------------


def test_slow_connections_do_not_starve_a_verify(tmp_path: Path) -> None:
    server = start_serve(tmp_path, KASSA24_HEADER_TIMEOUT="2")
    customer, _ = new_customer(server, {})
    slow: list[socket.socket] = []
    try:
        for _ in range(200):
            sock = socket.create_connection(("127.0.0.1", int(server.url.rsplit(":", 1)[1])))
            sock.sendall(b"POST /kassa24 HTTP/1.1\r\nHost: x\r\nContent-Le")  # and then nothing more
            slow.append(sock)
        answer = server.post(verify_body(customer))  # the client gives up after 10 s
        assert answer.json()["code"] == 0
        # The server drops the dribblers once the header deadline passes: each read waits
        # for its close (a generous deadline, the machine may be busy).
        closed = 0
        for sock in slow:
            sock.settimeout(30)
            try:
                closed += sock.recv(1) == b""
            except OSError:
                closed += 1
        assert closed == len(slow)
    finally:
        for sock in slow:
            sock.close()
        server.stop()


# --- authenticity --------------------------------------------------------------------------


def test_allow_list_and_forwarded_for_only_from_trusted_proxies(tmp_path: Path) -> None:
    server = start_app(tmp_path, KASSA24_ALLOW_IPS="203.0.113.0/24", KASSA24_TRUSTED_PROXIES="127.0.0.1")
    (tmp_path / "direct").mkdir()
    direct = start_app(tmp_path / "direct", KASSA24_ALLOW_IPS="203.0.113.0/24")
    try:
        body = signed(verify_body("nobody"), SECRET)
        refused = server.http.post(server.url + "/kassa24", json=body)
        assert refused.status_code == 403
        via_proxy = server.http.post(server.url + "/kassa24", json=body, headers={"x-forwarded-for": "203.0.113.7"})
        assert via_proxy.status_code == 200 and via_proxy.json()["code"] == 404
        spoofed_chain = server.http.post(
            server.url + "/kassa24", json=body, headers={"x-forwarded-for": "203.0.113.7, 198.51.100.1"}
        )
        assert spoofed_chain.status_code == 403  # the proxy saw 198.51.100.1 connect
        assert server.http.post(server.url + "/kassa24/callback", json=callback_body("p")).status_code == 403
        not_a_proxy = direct.http.post(direct.url + "/kassa24", json=body, headers={"x-forwarded-for": "203.0.113.7"})
        assert not_a_proxy.status_code == 403  # X-Forwarded-For from anyone else is not believed
        answered = "SELECT peer FROM traffic WHERE http_status = 200"
        wait_for(lambda: server.rows(answered), 30, "the answered request recorded")
        peers = [r["peer"] for r in server.rows(answered)]
        assert peers == ["203.0.113.7 via 127.0.0.1"]
    finally:
        server.stop()
        direct.stop()


def test_secret_file_must_be_private_and_the_secret_is_never_shown(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("s3cr3t-value-xyz\n")
    secret_file.chmod(0o644)
    env = {
        "KASSA24_SECRET_KEY_FILE": str(secret_file),
        "KASSA24_DATABASE_URL": f"sqlite:///{tmp_path / 'k.db'}",
        "KASSA24_LOG_FILE": str(tmp_path / "k.log"),
        "PATH": os.environ["PATH"],
    }
    refused = run_cli("db", "info", env=env)
    assert refused.returncode == 2 and "chmod 600" in refused.stderr and "s3cr3t" not in refused.stderr
    secret_file.chmod(0o600)
    helped = run_cli("--help", env=env)
    assert "s3cr3t" not in helped.stdout + helped.stderr

    (tmp_path / "s").mkdir()
    server = start_serve(tmp_path / "s", KASSA24_SECRET_KEY="s3cr3t-value-xyz")
    try:
        body = signed(verify_body("x"), "s3cr3t-value-xyz")
        body["customer_id"] = "y"
        server.post(body, sign=False)
        server.post(b"garbage")
        server.post(callback_body("p"), path="/kassa24/callback")
        wait_for(lambda: server.rows("SELECT count(*) FROM traffic")[0][0] == 3, 30, "three traffic rows")
    finally:
        server.stop()
    seen = server.db_path.with_suffix(".log").read_text() + (server.db_path.parent / "serve.stderr").read_text()
    assert "s3cr3t" not in seen
    assert (
        server.rows("SELECT count(*) AS n FROM traffic WHERE request LIKE '%s3cr3t%' OR response LIKE '%s3cr3t%'")[0][
            "n"
        ]
        == 0
    )


def test_request_logs_are_json_lines_with_request_ids(tmp_path: Path) -> None:
    server = start_serve(tmp_path)
    try:
        customer, _ = new_customer(server, {})
        answer = httpx.post(server.url + "/kassa24", json=signed(verify_body(customer), SECRET))
        request_id = answer.headers["x-request-id"]
        log = server.db_path.with_suffix(".log")
        wait_for(lambda: log.exists() and request_id in log.read_text(), 30, "the request's log line")
    finally:
        server.stop()
    lines = [json.loads(line) for line in server.db_path.with_suffix(".log").read_text().splitlines()]
    (entry,) = [e for e in lines if e.get("request_id") == request_id]
    assert entry["kind"] == "verify" and entry["code"] == 0 and entry["http_status"] == 200
    assert entry["latency_ms"] >= 0 and entry["logger"] == "kassa24_console.requests"


# --- durability: SIGKILL mid-stream, faults answer 500/503, never 200 ---------------------


def test_sigkill_mid_stream_loses_nothing_acknowledged(tmp_path: Path) -> None:
    server = start_serve(tmp_path)
    customer, (contract,) = new_customer(server, {"payment": 10**12})
    issued: list[str] = []
    acknowledged: list[str] = []
    for _ in range(3):
        stop = threading.Event()
        streams = [
            threading.Thread(target=stream_payments, args=(server, customer, contract, issued, acknowledged, stop))
            for _ in range(4)
        ]
        for thread in streams:
            thread.start()
        flowing = len(acknowledged) + 8  # killed mid-stream: once payments are being made and paid
        wait_for(lambda flowing=flowing: len(acknowledged) >= flowing, 60, "payments flowing")
        os.kill(server.proc.pid, signal.SIGKILL)
        server.proc.wait()
        stop.set()
        for thread in streams:
            thread.join(10)
        server = start_serve(tmp_path)  # the same database file
    try:
        assert len(issued) > 20 and len(acknowledged) > 10
        stored = {r["payment_id"]: r["state"] for r in server.rows("SELECT payment_id, state FROM deposits")}
        assert set(issued) <= set(stored)
        assert all(stored[p] == "paid" for p in acknowledged)
        called_back = {r["payment_id"] for r in server.rows("SELECT payment_id FROM callbacks")}
        assert set(acknowledged) <= called_back
        paid = sum(1 for state in stored.values() if state == "paid")
        due = server.rows("SELECT payment FROM contracts WHERE id = ?", contract)[0]["payment"]
        assert due == 10**12 - 100 * paid  # every credit whole, none half-applied
        assert server.rows("PRAGMA integrity_check")[0][0] == "ok"
    finally:
        server.stop()


def test_a_locked_database_answers_500_and_503_never_success(tmp_path: Path) -> None:
    server = start_app(tmp_path, KASSA24_SQLITE_BUSY_TIMEOUT_MS="200")
    customer, (contract,) = new_customer(server, {"payment": 1_000_000})
    paid_before = server.post(deposit_body(customer, contract)).json()["payment_id"]
    blocker = sqlite3.connect(server.db_path, timeout=5, isolation_level=None)
    try:
        blocker.execute("BEGIN EXCLUSIVE")
        deposit = server.post(deposit_body(customer, contract)).json()
        assert deposit["code"] == 500 and "payment_id" not in deposit
        callback = server.post(callback_body(paid_before, amount=100_000), path="/kassa24/callback")
        assert callback.status_code == 503
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    try:
        assert server.post(deposit_body(customer, contract)).json()["code"] == 0
        assert server.post(callback_body(paid_before, amount=100_000), path="/kassa24/callback").status_code == 200
        assert server.rows("SELECT state FROM deposits WHERE payment_id = ?", paid_before)[0]["state"] == "paid"
    finally:
        server.stop()


def test_a_full_database_answers_500_never_a_payment_id_it_did_not_keep(tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    probe = start_app(tmp_path / "p")
    probe.stop()
    pages = probe.rows("PRAGMA page_count")[0][0]
    server = start_app(tmp_path, KASSA24_SQLITE_MAX_PAGES=str(pages + 12))
    try:
        customer, (contract,) = new_customer(server, {"payment": 10**12})
        issued, refused = [], 0
        for _ in range(3000):
            answer = server.post(deposit_body(customer, contract, 100, number=None)).json()
            if answer["code"] == 0:
                issued.append(answer["payment_id"])
            else:
                assert answer["code"] == 500 and "payment_id" not in answer
                refused += 1
                if refused > 20:
                    break
        assert refused > 0, "the database never filled up"
        stored = {r["payment_id"] for r in server.rows("SELECT payment_id FROM deposits")}
        assert set(issued) <= stored
    finally:
        server.stop()


def test_healthz_fails_when_the_database_is_gone(tmp_path: Path) -> None:
    server = start_app(tmp_path)
    try:
        assert server.http.get(server.url + "/healthz").status_code == 200
        moved = tmp_path / "moved.db"
        server.db_path.rename(moved)
        unhealthy = server.http.get(server.url + "/healthz")
        assert unhealthy.status_code == 503 and unhealthy.json() == {"status": "database unreachable"}
        moved.rename(server.db_path)
        assert server.http.get(server.url + "/healthz").status_code == 200
    finally:
        server.stop()
