"""Hostile input and faults, round two: bounded unverified work, text any database can hold,
only positive money, keys, client addresses, health that tells the truth, clear startup
errors, private files and metrics. Real ``serve`` processes over real HTTP."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from kassa24_console.config import Settings
from kassa24_console.protocol.messages import BadMessage, parse_json
from kassa24_console.protocol.signature import signed
from kassa24_console.runtime import PRUNE_BATCH, Runtime
from kassa24_console.store import Store, now_us
from kassa24_console.store import queries as q
from tests.support.bodies import callback_body, deposit_body, verify_body
from tests.support.cli import run_cli
from tests.support.common import SECRET
from tests.support.console import until
from tests.support.inprocess import AppServer, start_app
from tests.support.seeding import new_customer
from tests.support.serve import serve_env, start_serve
from tests.support.waiting import wait_for, wait_until

HEAVY = b'{"type": "verify", "a": [' + b",".join(b"1" for _ in range(30_000)) + b"]}"


# --- unverified work is cheap and bounded ---------------------------------------------------


def test_a_heavy_unsigned_body_is_refused_by_its_structure_before_any_signature_work(tmp_path: Path) -> None:
    with pytest.raises(BadMessage, match="more than 4000 values"):
        parse_json(HEAVY)
    with pytest.raises(BadMessage, match="deeper than 32"):
        parse_json(b'{"a":' * 40 + b"1" + b"}" * 40)
    server = start_app(tmp_path)
    try:
        answer = server.http.post(server.url + "/kassa24", content=HEAVY)
        assert answer.status_code == 200
        assert answer.json()["code"] == 500 and "more than 4000 values" in answer.json()["message"]
        wait_for(lambda: server.rows("SELECT count(*) FROM traffic")[0][0] == 1)
        kept = server.rows("SELECT request, reason FROM traffic")[0]
        assert len(kept["request"]) < 700 and f"[{len(HEAVY)} bytes, sha256 " in kept["request"]
        assert "more than 4000 values" in kept["reason"]
    finally:
        server.stop()


def test_unverified_requests_are_budgeted_per_peer(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="kassa24_console")
    server = start_app(tmp_path, KASSA24_UNVERIFIED_BUDGET="5", KASSA24_TRUSTED_PROXIES="127.0.0.1")
    try:
        customer, _ = new_customer(server, {})
        forged = {**verify_body(customer), "signature": "A" * 86 + "=="}
        attacker = {"x-forwarded-for": "198.51.100.9"}
        codes = [server.http.post(server.url + "/kassa24", json=forged, headers=attacker).status_code for _ in range(7)]
        assert codes == [200] * 5 + [429] * 2
        throttled = server.http.post(server.url + "/kassa24", json=forged, headers=attacker)
        assert throttled.headers["connection"] == "close" and throttled.headers["retry-after"] == "60"
        # Another peer is untouched by the attacker's budget.
        honest = server.http.post(server.url + "/kassa24", json=signed(verify_body(customer), SECRET))
        assert honest.status_code == 200 and honest.json()["code"] == 0
        said = [r.getMessage() for r in caplog.records if "spent its budget" in r.getMessage()]
        assert said and "198.51.100.9" in said[0]  # the log names the peer (serve writes it to its log file)
        wait_for(lambda: server.rows("SELECT count(*) FROM traffic")[0][0] == 6)  # 429s are counted, not stored
        metrics = server.http.get(server.url + "/metrics").text
        assert 'kassa24_requests_total{code="http_429",kind="throttled"} 3.0' in metrics
    finally:
        server.stop()


# --- storage cannot be flooded ---------------------------------------------------------------


def test_forged_callbacks_are_kept_abridged_and_grouped_per_peer(tmp_path: Path) -> None:
    server = start_app(tmp_path, KASSA24_UNVERIFIED_BUDGET="0")
    try:
        for i in range(30):
            body = callback_body(f"k24_forged{i}")
            body["payment"]["description"] = "x" * 8000
            body["extra"] = ["y" * 8000] * 6  # ~57 KB, within the structural limits
            body["signature"] = "A" * 86 + "=="
            assert server.post(body, sign=False, path="/kassa24/callback").status_code == 400
        groups = server.rows("SELECT kind, occurrences, evidence FROM mismatches")
        assert len(groups) == 1 and groups[0]["kind"] == "bad_signature" and groups[0]["occurrences"] == 30
        assert json.loads(groups[0]["evidence"])["peer"] == "127.0.0.1"
        wait_for(lambda: server.rows("SELECT count(*) FROM traffic")[0][0] == 30)
        stored = server.rows("SELECT max(length(request)) AS t FROM traffic")[0]["t"]
        raw = server.rows("SELECT max(length(raw)) AS r FROM callbacks")[0]["r"]
        assert stored < 700 and raw < 700
        assert os.path.getsize(server.db_path) < 1_000_000
    finally:
        server.stop()


async def test_old_traffic_is_pruned_in_batches_and_evidence_is_kept(tmp_path: Path) -> None:
    settings = Settings(secret_key=SECRET, database_url=f"sqlite:///{tmp_path / 'k.db'}", log_file=tmp_path / "k.log")
    runtime = Runtime(settings)
    await runtime.open()
    old, recent = now_us() - 100 * 86_400_000_000, now_us()
    row = {"kind": "verify", "http_status": 200, "peer": "p", "request": "{}", "response": "{}"}
    deposit = {"customer_id": "c", "amount": 100, "currency": "KZT", "state": "paid", "updated_at": old}

    def seed(connection) -> None:
        connection.execute(q.traffic.insert(), [{**row, "at": old + i} for i in range(2 * PRUNE_BATCH + 7)])
        connection.execute(q.traffic.insert(), [{**row, "at": recent}] * 3)
        connection.execute(q.deposits.insert().values(payment_id="k24_old", created_at=old, **deposit))

    await runtime.store.write(seed)
    assert await runtime.prune_once() == 2 * PRUNE_BATCH + 7
    assert await runtime.store.scan(q.count, q.traffic) == 3
    assert await runtime.store.scan(q.count, q.deposits) == 1
    await runtime.close()


# --- any text can be stored ------------------------------------------------------------------

NASTY = ["\ud800", "a\x00b", "\udfff\ud800x", "[/x]"]


def test_nasty_text_in_every_field_is_stored_and_answered_beside_legitimate_traffic(tmp_path: Path) -> None:
    server = start_app(tmp_path, KASSA24_UNVERIFIED_BUDGET="0")
    try:
        customer, (contract,) = new_customer(server, {"payment": 10**9})
        legitimate = 0
        for text in NASTY:
            unsigned = json.dumps({"type": "verify", "project_id": 1234, "customer_id": text, "x": text})
            assert server.http.post(server.url + "/kassa24", content=unsigned.encode()).json()["code"] == 400
            signed_nasty = server.post(verify_body(text, note=text)).json()
            assert signed_nasty["code"] == 404
            deposit = server.post(deposit_body(customer, contract, number=text, entity_id=text)).json()
            assert deposit["code"] == 500
            forged = {**callback_body(text), "signature": "A" * 86 + "=="}
            assert server.post(forged, sign=False, path="/kassa24/callback").status_code == 400
            body = callback_body(text)
            body["payment"]["status"] = body["operation"]["status"] = text
            body["customer"]["id"] = text
            assert server.post(body, path="/kassa24/callback").status_code == 200
            for _ in range(5):
                assert server.post(verify_body(customer)).json()["code"] == 0
                legitimate += 1
        wait_for(lambda: server.rows("SELECT count(*) FROM traffic")[0][0] == legitimate + 5 * len(NASTY))
        kept = "SELECT count(*) FROM traffic WHERE customer_id = ? AND kind = 'verify' AND code = 0"
        assert server.rows(kept, customer)[0][0] == legitimate
        kept = {r["customer_id"] for r in server.rows("SELECT customer_id FROM traffic")}
        assert "\\ud800" in kept and "a\\u0000b" in kept
        statuses = {r["status"] for r in server.rows("SELECT status FROM callbacks WHERE signature_ok")}
        assert "\\udfff\\ud800x" in statuses
    finally:
        server.stop()


async def test_the_writer_isolates_a_row_that_cannot_be_stored(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'k.db'}", flush_interval=0.05)
    await store.open()
    row = {"at": 1, "kind": "verify", "http_status": 200, "peer": "p", "request": "{}", "response": "{}"}
    for i in range(20):
        store.record_traffic({**row, "customer_id": f"ok{i}"})
    store.record_traffic({**row, "customer_id": "bad\ud800"})  # unstorable as it stands
    await store.write(lambda connection: None)

    def customers(connection) -> list[str]:
        return [r[0] for r in connection.exec_driver_sql("SELECT customer_id FROM traffic")]

    async def all_kept() -> bool:
        return len(await store.scan(customers)) == 21

    await wait_until(all_kept, timeout=10, what="the retried traffic batch")  # retried after the job is answered
    stored = await store.scan(customers)
    assert len(stored) == 21 and "bad\\ud800" in stored
    await store.close()


# --- only positive money moves ---------------------------------------------------------------


@pytest.mark.parametrize("amount", [-100_000, 0])
def test_a_success_callback_without_a_positive_amount_credits_nothing(app_server2: AppServer, amount: int) -> None:
    customer, (contract,) = new_customer(app_server2, {"payment": 500_000})
    payment_id = app_server2.post(deposit_body(customer, contract, 100_000)).json()["payment_id"]
    answer = app_server2.post(callback_body(payment_id, amount=amount), path="/kassa24/callback")
    assert answer.status_code == 200 and answer.json()["outcome"] == "invalid_amount"
    assert app_server2.rows("SELECT state FROM deposits WHERE payment_id = ?", payment_id)[0]["state"] == "pending"
    assert app_server2.post(verify_body(customer)).json()["entities"][0]["payment"] == 500_000
    flagged = app_server2.rows("SELECT kind, state FROM mismatches WHERE payment_id = ?", payment_id)
    assert [tuple(r) for r in flagged] == [("invalid_amount", "open")]


def test_a_larger_amount_than_the_deposit_never_lowers_the_due_by_more(app_server2: AppServer) -> None:
    customer, (contract,) = new_customer(app_server2, {"payment": 500_000})
    payment_id = app_server2.post(deposit_body(customer, contract, 100_000)).json()["payment_id"]
    assert app_server2.post(callback_body(payment_id, amount=400_000), path="/kassa24/callback").status_code == 200
    assert app_server2.post(verify_body(customer)).json()["entities"][0]["payment"] == 400_000
    kinds = {r["kind"] for r in app_server2.rows("SELECT kind FROM mismatches WHERE payment_id = ?", payment_id)}
    assert kinds == {"amount_mismatch"}
    audit = app_server2.rows(
        "SELECT kind, actor, cause, old, new FROM audit WHERE entity_id = ? AND kind != 'import'", contract
    )
    assert [tuple(r) for r in audit] == [("payment", "platform", payment_id, "500000", "400000")]


# --- keys, addresses ---------------------------------------------------------------------------


def _cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = serve_env(tmp_path / "k24.db", 0)
    base.update(env)
    return subprocess.run(
        [sys.executable, "-m", "kassa24_console", *args], env=base, capture_output=True, text=True, timeout=60
    )


def _one_clear_line(result: subprocess.CompletedProcess[str], expected: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert 1 <= len(lines) <= 2, result.stderr
    assert expected in result.stderr


def test_serve_refuses_the_demo_or_an_empty_key_off_loopback(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KASSA24_")}
    base = {"KASSA24_DATABASE_URL": f"sqlite:///{tmp_path / 'k.db'}", "KASSA24_LOG_FILE": str(tmp_path / "k.log")}
    cli = [sys.executable, "-m", "kassa24_console", "serve"]
    demo = subprocess.run(cli, env={**env, **base, "KASSA24_HOST": "0.0.0.0"}, capture_output=True, text=True)
    assert demo.returncode == 2 and "public demo key" in demo.stderr and "Traceback" not in demo.stderr
    empty = {**env, **base, "KASSA24_HOST": "0.0.0.0", "KASSA24_SECRET_KEY": ""}
    refused = subprocess.run(cli, env=empty, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "secret key is empty" in refused.stderr
    assert not (tmp_path / "k.db").exists()  # nothing was started


def test_every_forwarded_for_line_is_read_and_ipv4_mapped_addresses_match(tmp_path: Path) -> None:
    server = start_app(tmp_path, KASSA24_ALLOW_IPS="203.0.113.0/24", KASSA24_TRUSTED_PROXIES="127.0.0.1")
    body = json.dumps(signed(verify_body("nobody"), SECRET)).encode()
    try:
        two_lines = [("x-forwarded-for", "203.0.113.7"), ("x-forwarded-for", "198.51.100.1")]
        answer = server.http.post(server.url + "/kassa24", content=body, headers=two_lines)
        assert answer.status_code == 403  # the proxy's own line names who connected to it
    finally:
        server.stop()
    # An IPv4 client of a dual-stack socket is seen as ::ffff:127.0.0.1: a real socket.
    (tmp_path / "v6").mkdir()
    dual = start_serve(tmp_path / "v6", KASSA24_HOST="::", KASSA24_ALLOW_IPS="127.0.0.1")
    try:
        port = dual.url.rsplit(":", 1)[1]
        answer = httpx.post(f"http://127.0.0.1:{port}/kassa24", content=body)
        assert answer.status_code == 200 and answer.json()["code"] == 404
    finally:
        dual.stop()


# --- health tells the truth about writes ------------------------------------------------------


def test_healthz_through_a_full_database_and_back(tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    probe = start_app(tmp_path / "p")
    probe.stop()
    pages = probe.rows("PRAGMA page_count")[0][0]
    server = start_app(tmp_path, KASSA24_SQLITE_MAX_PAGES=str(pages + 40))
    try:
        customer, (contract,) = new_customer(server, {"payment": 10**12})
        assert server.http.get(server.url + "/healthz").status_code == 200
        for _ in range(5000):
            if server.post(deposit_body(customer, contract, 100)).json()["code"] != 0:
                break
        else:
            raise AssertionError("the database never filled up")
        sick = server.http.get(server.url + "/healthz")
        assert sick.status_code == 503 and "writes fail" in sick.json()["status"]
        with sqlite3.connect(server.db_path, timeout=10) as db:  # the operator frees space
            db.execute("DELETE FROM traffic")
            db.execute("DELETE FROM deposits WHERE customer_id = ?", (customer,))
        wait_for(lambda: server.http.get(server.url + "/healthz").status_code == 200)
        assert server.post(deposit_body(customer, contract, 100)).json()["code"] == 0
    finally:
        server.stop()


# --- clear startup errors, private files ------------------------------------------------------


@pytest.mark.parametrize("command", [["serve"], ["import", "x.json"], ["db", "info"]])
@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"KASSA24_DATABASE_URL": "sqlte:///k.db"}, "unsupported database 'sqlte'"),
        ({"KASSA24_DATABASE_URL": "sqlite:////dev/null/dir/k.db"}, "cannot open the database"),
        ({"KASSA24_DATABASE_URL": "postgresql://u@127.0.0.1:1/nowhere"}, "cannot open the database"),
        ({"KASSA24_LOG_FILE": "/dev/null/dir/k.log"}, "cannot write the log file"),
    ],
    ids=["mistyped-url", "unwritable-directory", "unreachable", "unwritable-log"],
)
def test_startup_errors_are_one_clear_line(tmp_path: Path, command: list[str], env: dict, expected: str) -> None:
    (tmp_path / "x.json").write_text('{"accounts": [{"customer_id": "1"}]}')
    env = {**serve_env(tmp_path / "k24.db", 0), **env}
    if command == ["serve"]:  # serve in a process of its own: a start that went wrong leaves nothing here
        result = subprocess.run(
            [sys.executable, "-m", "kassa24_console", *command], env=env, capture_output=True, text=True, timeout=60,
            cwd=tmp_path,
        )  # fmt: skip
    else:
        result = run_cli(*command, env=env, cwd=tmp_path)
    _one_clear_line(result, expected)


def test_a_postgresql_url_without_a_driver_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from kassa24_console.config import ConfigError, load_settings

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ConfigError, match=r"pip install 'kassa24-console\[postgres\]'"):
        load_settings(None, database_url="postgresql://u@db/k24")


def test_the_database_and_the_log_are_private(tmp_path: Path) -> None:
    server = start_serve(tmp_path)
    try:
        assert server.post(verify_body("x")).status_code == 200
        wait_for(lambda: (tmp_path / "k24.log").exists())
        for name in ("k24.db", "k24.db-wal", "k24.db-shm", "k24.log"):
            assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
    finally:
        server.stop()


async def test_the_console_shows_a_startup_error_and_exits_non_zero(tmp_path: Path) -> None:
    from kassa24_console.console.app import Kassa24App

    settings = Settings(
        secret_key=SECRET, database_url="postgresql://u@127.0.0.1:1/nowhere", log_file=tmp_path / "k.log", port=0
    )
    app = Kassa24App(settings)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: "cannot open the database" in str(app.query_one("#status-line").render()), 10)
        await pilot.press("q")
    assert app.return_value == 1


# --- metrics ------------------------------------------------------------------------------------


def test_metrics_in_prometheus_format_behind_the_allow_list(tmp_path: Path) -> None:
    server = start_app(tmp_path)
    try:
        customer, (contract,) = new_customer(server, {"payment": 10**6})
        assert server.post(verify_body(customer)).json()["code"] == 0
        payment_id = server.post(deposit_body(customer, contract)).json()["payment_id"]
        assert server.post(callback_body(payment_id), path="/kassa24/callback").status_code == 200
        assert server.post(callback_body("k24_never"), path="/kassa24/callback").status_code == 200
        text = server.http.get(server.url + "/metrics").text
        for line in (
            'kassa24_requests_total{code="0",kind="verify"} 1.0',
            'kassa24_requests_total{code="0",kind="check_deposit"} 1.0',
            'kassa24_callbacks_total{outcome="applied"} 1.0',
            'kassa24_callbacks_total{outcome="unknown_payment"} 1.0',
            "kassa24_open_mismatches 1.0",
            "kassa24_failed_writes_total 0.0",
            'kassa24_request_seconds_bucket{kind="verify",le="+Inf"} 1.0',
        ):
            assert line in text, line
        assert "kassa24_writer_batch_jobs_count" in text
    finally:
        server.stop()
    (tmp_path / "closed").mkdir()
    closed = start_app(tmp_path / "closed", KASSA24_ALLOW_IPS="203.0.113.0/24")
    try:
        assert closed.http.get(closed.url + "/metrics").status_code == 403
        assert closed.http.get(closed.url + "/healthz").status_code == 200
    finally:
        closed.stop()
