"""Alerts with real deliveries on loopback: real ``serve`` processes, real traffic (or real
reconciliation) firing each rule, a JSON webhook and an SMTP server receiving, the rule
clearing and the resolved message arriving."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.support.bodies import callback_body, deposit_body, verify_body
from tests.support.cli import run_cli
from tests.support.endpoint import Endpoint
from tests.support.inprocess import AppServer, start_app
from tests.support.receivers import SMTP_PASSWORD, HttpReceiver, SmtpReceiver
from tests.support.seeding import new_customer
from tests.support.serve import Server, start_serve
from tests.support.waiting import wait_for

FAST = {
    "KASSA24_ALERT_INTERVAL_SECONDS": "0.2",
    "KASSA24_ALERT_RETRY_SECONDS": "0.2",
    "KASSA24_ALERT_RETRY_ATTEMPTS": "2",
}
RULES = Path(__file__).resolve().parents[1] / "deploy" / "prometheus" / "kassa24-rules.yml"
SIG_TITLE = "kassa24: Requests fail the signature"
HEADER = (
    "Operation ID;Payment ID;Project ID;Operation type;Operation status;Payment method;Amount;Currency;"
    "Customer ID;Created;Completed"
)


@pytest.fixture
def hook() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def mail() -> Iterator[SmtpReceiver]:
    receiver = SmtpReceiver()
    yield receiver
    receiver.close()


def serve(tmp: Path, *urls: str, **env: str) -> Server:
    """A serve process alerting to ``urls``: for what the process shows (its logs, a restart,
    two of them on one database)."""
    tmp.mkdir(exist_ok=True)
    return start_serve(tmp, **{**FAST, "KASSA24_ALERT_URLS": ",".join(urls), **env})


def serve_app(tmp: Path, *urls: str, **env: str) -> AppServer:
    """serve's app and alerter in-process alerting to ``urls``: for a rule's firing and clearing."""
    tmp.mkdir(exist_ok=True)
    return start_app(tmp, alerting=True, **{**FAST, "KASSA24_ALERT_URLS": ",".join(urls), **env})


def forged(server: Server, n: int) -> None:
    """``n`` verify requests with a wrong signature, as after a key change on the platform."""
    for _ in range(n):
        body = verify_body("7000000001", signature="d3Jvbmcgc2lnbmF0dXJl")
        assert server.post(body, sign=False).json()["code"] == 400


def metric(server: Server, name: str, rule: str) -> float:
    text = server.http.get(server.url + "/metrics").text
    for line in text.splitlines():
        if line.startswith(f'{name}{{rule="{rule}"}}'):
            return float(line.split()[-1])
    return 0.0


def count(receiver: HttpReceiver | SmtpReceiver, title: str) -> int:
    return sum(t == title for t in receiver.titles())


def everything_written(server: Server, tmp: Path) -> str:
    """The log files and the process output: where a secret must never appear."""
    texts = [p.read_text(errors="replace") for p in tmp.glob("*.log*")]
    texts.append((tmp / "serve.stderr").read_text(errors="replace"))
    return "\n".join(texts)


def test_signature_failures_fire_once_to_webhook_and_mail_then_resolve(
    tmp_path: Path, hook: HttpReceiver, mail: SmtpReceiver
) -> None:
    server = serve(tmp_path, hook.url, mail.url, KASSA24_ALERT_SIGNATURE_FAILURES="5", KASSA24_ALERT_WINDOW_SECONDS="3")
    try:
        forged(server, 4)
        forged(server, 1)
        wait_for(lambda: count(hook, SIG_TITLE) and count(mail, SIG_TITLE), what="the alert on both channels")
        fired = next(r for r in hook.got if r.title == SIG_TITLE)
        assert "5 requests failed the signature" in fired.body and "verify from 127.0.0.1" in fired.body
        assert "key" in fired.body  # the likely cause is named
        resolved = "kassa24: Resolved: Requests fail the signature"
        wait_for(lambda: count(hook, resolved) and count(mail, resolved), what="the resolved message")
        assert count(hook, SIG_TITLE) == 1 and count(mail, SIG_TITLE) == 1
        # 2 channels × 2 messages; counted once a delivery is done, which may be just after it is received
        wait_for(lambda: metric(server, "kassa24_alerts_sent_total", "signature_failures") == 4, what="4 counted")
        (row,) = server.rows("SELECT * FROM alerts")
        assert row["rule"] == "signature_failures" and row["active_key"] is None and row["resolved_at"]
        channels = {r["channel"] for r in server.rows("SELECT channel FROM alert_deliveries WHERE ok")}
        assert channels == {f"json://127.0.0.1:{hook.port}", f"mailto://127.0.0.1:{mail.port}"}
    finally:
        server.stop()
    written = everything_written(server, tmp_path)
    assert "alert signature_failures started" in written  # the log does tell of alerts
    assert SMTP_PASSWORD not in written and hook.token not in written
    assert SMTP_PASSWORD not in str(server.rows("SELECT * FROM alert_deliveries"))


def test_overdue_and_silent_callbacks_fire_and_clear_when_the_callback_arrives(
    tmp_path: Path, hook: HttpReceiver
) -> None:
    server = serve_app(
        tmp_path,
        hook.url,
        KASSA24_ALERT_CALLBACK_OVERDUE_SECONDS="1",
        KASSA24_ALERT_CALLBACK_SILENCE_MINUTES="0.02",
    )
    try:
        customer, (contract,) = new_customer(server, {"payment": 1_000_000})
        payment_id = server.post(deposit_body(customer, contract, 250_000)).json()["payment_id"]
        wait_for(lambda: count(hook, "kassa24: Callbacks are overdue"), what="callback_overdue")
        wait_for(lambda: count(hook, "kassa24: No callbacks arrive"), what="callbacks_silent")
        overdue = next(r for r in hook.got if r.title == "kassa24: Callbacks are overdue")
        scraped = server.get("/metrics").text
        waited = float(re.search(r"^kassa24_oldest_pending_deposit_seconds (\S+)$", scraped, re.M).group(1))  # type: ignore[union-attr]
        assert waited >= 1  # what the Prometheus rule watches
        assert payment_id in overdue.body and customer in overdue.body and "2500.00 KZT" in overdue.body
        assert server.post(callback_body(payment_id, amount=250_000), path="/kassa24/callback").status_code == 200
        wait_for(lambda: count(hook, "kassa24: Resolved: Callbacks are overdue"), what="overdue resolved")
        wait_for(lambda: count(hook, "kassa24: Resolved: No callbacks arrive"), what="silence resolved")
        assert count(hook, "kassa24: Callbacks are overdue") == 1 and count(hook, "kassa24: No callbacks arrive") == 1
        scraped = server.get("/metrics").text
        assert "kassa24_oldest_pending_deposit_seconds 0.0" in scraped
    finally:
        server.stop()


def test_error_share_fires_and_clears_as_answers_recover(tmp_path: Path, hook: HttpReceiver) -> None:
    server = serve_app(tmp_path, hook.url, KASSA24_ALERT_ERROR_SHARE="0.5", KASSA24_ALERT_WINDOW_SECONDS="600")
    try:
        customer, _ = new_customer(server, {})
        for _ in range(19):  # signed, but not a message we know: code 500
            assert server.post({"type": "refund", "project_id": 1234}).json()["code"] == 500
        assert server.post(verify_body(customer)).json()["code"] == 0  # the 20th request
        title = "kassa24: Requests are failing"
        wait_for(lambda: count(hook, title), what="errors alert")
        assert "19 of 20 requests" in next(r for r in hook.got if r.title == title).body
        for _ in range(20):  # the share falls under a half
            assert server.post(verify_body(customer)).json()["code"] == 0
        wait_for(lambda: count(hook, "kassa24: Resolved: Requests are failing"), what="errors resolved")
        assert count(hook, title) == 1
    finally:
        server.stop()


def test_writes_failing_fires_at_once_and_resolves_when_space_is_freed(tmp_path: Path, hook: HttpReceiver) -> None:
    probe = serve_app(tmp_path / "p")
    probe.stop()
    pages = probe.rows("PRAGMA page_count")[0][0]
    server = serve_app(tmp_path, hook.url, KASSA24_SQLITE_MAX_PAGES=str(pages + 40))
    try:
        customer, (contract,) = new_customer(server, {"payment": 10**12})
        for _ in range(5000):
            if server.post(deposit_body(customer, contract, 100)).json()["code"] != 0:
                break
        else:
            raise AssertionError("the database never filled up")
        wait_for(lambda: count(hook, "kassa24: Database writes are failing"), what="writes_failing")
        with sqlite3.connect(server.db_path, timeout=10) as db:  # the operator frees space
            db.execute("DELETE FROM traffic")
            db.execute("DELETE FROM deposits WHERE customer_id = ?", (customer,))
        wait_for(lambda: count(hook, "kassa24: Resolved: Database writes are failing"), what="writes resolved")
        assert count(hook, "kassa24: Database writes are failing") == 1
    finally:
        server.stop()


def test_reconciliation_findings_are_one_message_per_run_until_resolved(tmp_path: Path, hook: HttpReceiver) -> None:
    server = serve_app(tmp_path, hook.url)
    try:
        now = datetime.now(ZoneInfo("Asia/Almaty")).strftime("%Y-%m-%d %H:%M:%S")
        report = tmp_path / "platform.csv"
        lines = [
            f"{op};k24_elsewhere{op};1234;sale;success;Kassa24;{amount};KZT;;{now};{now}"
            for op, amount in (
                ("1", "10.00"),
                ("2", "25.50"),
            )
        ]
        report.write_text("\n".join([HEADER, *lines]) + "\n")
        found = reconcile(server, "--report", str(report), "--format", "json")
        assert found.returncode == 1, found.stderr
        title = "kassa24: New findings involve money"
        wait_for(lambda: count(hook, title), what="new_findings")
        body = next(r for r in hook.got if r.title == title).body
        assert "report_unknown_payment: 2, 35.50 KZT in all" in body
        for finding in json.loads(found.stdout)["open"]:
            assert reconcile(server, "--resolve", str(finding["id"]), "--note", "test operations").returncode == 0
        wait_for(lambda: count(hook, f"kassa24: Resolved: {title[9:]}"), what="findings resolved")
        assert count(hook, title) == 1
    finally:
        server.stop()


def reconcile(server: Endpoint, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("reconcile", *args, env={**server.env, "KASSA24_LOG_FILE": "/dev/null"})


def test_two_serve_processes_on_one_database_send_each_message_once(tmp_path: Path, hook: HttpReceiver) -> None:
    env = {"KASSA24_ALERT_SIGNATURE_FAILURES": "3", "KASSA24_ALERT_WINDOW_SECONDS": "3"}
    first = serve(tmp_path, hook.url, **env)
    second = start_serve(tmp_path, **FAST, KASSA24_ALERT_URLS=hook.url, KASSA24_LOG_FILE=str(tmp_path / "b.log"), **env)
    try:
        forged(first, 2)
        forged(second, 1)
        wait_for(lambda: count(hook, "kassa24: Resolved: Requests fail the signature"), what="resolved")
        # Both evaluated the rule every 0.2 s from the start to the end of the episode.
        assert count(hook, SIG_TITLE) == 1
        assert count(hook, "kassa24: Resolved: Requests fail the signature") == 1
        logs = [(tmp_path / name).read_text() for name in ("k24.log", "b.log")]
        assert sum("alert signature_failures started" in text for text in logs) == 1
    finally:
        first.stop()
        second.stop()


def test_restart_sends_nothing_again_and_repeats_wait_their_period(tmp_path: Path, hook: HttpReceiver) -> None:
    env = {"KASSA24_ALERT_SIGNATURE_FAILURES": "3", "KASSA24_ALERT_WINDOW_SECONDS": "600"}
    server = serve(tmp_path, hook.url, **env)
    try:
        forged(server, 3)
        wait_for(lambda: count(hook, SIG_TITLE), what="the alert")
    finally:
        server.stop()
    server = serve(tmp_path, hook.url, KASSA24_ALERT_REPEAT_SECONDS="2", KASSA24_ALERT_ERROR_SHARE="0.5", **env)
    try:
        for _ in range(20):  # another rule fires: the restarted process has evaluated them all
            server.post({"type": "refund", "project_id": 1234})
        wait_for(lambda: count(hook, "kassa24: Requests are failing"), what="the second alert")
        assert count(hook, SIG_TITLE) == 1  # not sent again by the new process
        wait_for(lambda: count(hook, "kassa24: Still: Requests are failing"), what="a repeat")
        first = next(r.at for r in hook.got if r.title == "kassa24: Requests are failing")
        again = next(r.at for r in hook.got if r.title == "kassa24: Still: Requests are failing")
        assert again > first
        assert "Active since" in hook.got[-1].body
        (row,) = server.rows("SELECT sends, started_at, last_sent_at FROM alerts WHERE rule = 'errors'")
        assert row["sends"] >= 2
        # Held for the repeat period, as the process counts it: from the first message's send to
        # the repeat's (the hook's arrival times add each delivery's own time: the first one,
        # importing Apprise on a busy machine, arrived 1.86 s before a repeat sent 2 s later).
        assert row["last_sent_at"] - row["started_at"] >= 2_000_000
    finally:
        server.stop()


def test_a_failing_channel_is_retried_reported_and_blocks_no_other(tmp_path: Path, hook: HttpReceiver) -> None:
    broken = HttpReceiver(fail=True)
    try:
        server = serve(
            tmp_path,
            broken.url,
            hook.url,
            KASSA24_ALERT_SIGNATURE_FAILURES="2",
            KASSA24_ALERT_RETRY_ATTEMPTS="3",
            KASSA24_ALERT_RETRY_SECONDS="1",
        )
        try:
            forged(server, 2)
            wait_for(lambda: count(hook, SIG_TITLE), what="the working channel")
            wait_for(lambda: metric(server, "kassa24_alerts_failed_total", "signature_failures") == 1, what="failure")
            assert len(broken.attempts) == 3
            assert hook.got[0].at < broken.attempts[-1]  # delivered while the other was still retrying
            assert broken.attempts[2] - broken.attempts[1] >= 1.9  # backoff doubles: 1 s, then 2 s
            assert metric(server, "kassa24_alerts_sent_total", "signature_failures") == 1
            # Recorded just after the metric counts it (one write for the message's deliveries).
            failed = wait_for(lambda: server.rows("SELECT * FROM alert_deliveries WHERE NOT ok"), what="recorded")
            assert [(r["channel"], r["attempts"]) for r in failed] == [(f"json://127.0.0.1:{broken.port}", 3)]
            assert "500" in failed[0]["error"]
            scraped = server.http.get(server.url + "/metrics").text.splitlines()
            exported = {line.split()[2] for line in scraped if line.startswith("# HELP")}
            assert set(re.findall(r"kassa24_[a-z_]+", RULES.read_text())) <= exported  # the Prometheus rules' series
            listed = alerts_cli(server, "list")
            assert "NOT delivered after 3 attempts" in listed.stdout
            assert broken.token not in listed.stdout and hook.token not in listed.stdout
        finally:
            server.stop()
        written = everything_written(server, tmp_path)
        assert f"json://127.0.0.1:{broken.port}" in written and "not delivered" in written
        assert broken.token not in written and hook.token not in written
    finally:
        broken.close()


def alerts_cli(server: Server, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_cli("alerts", *args, env={**server.env, **env})


def test_alerts_test_says_per_url_and_fails_when_one_does(
    tmp_path: Path, hook: HttpReceiver, mail: SmtpReceiver
) -> None:
    broken = HttpReceiver(fail=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KASSA24_")}
    env.update(KASSA24_DATABASE_URL=f"sqlite:///{tmp_path / 'k.db'}", KASSA24_LOG_FILE=str(tmp_path / "k.log"))
    server = Server("", tmp_path / "k.db", 2, env, proc=None)  # type: ignore[arg-type]  # no process: the command alone
    try:
        good = alerts_cli(server, "test", KASSA24_ALERT_URLS=f"{hook.url},{mail.url}")
        assert good.returncode == 0, good.stderr
        assert good.stdout.splitlines() == [
            f"1. json://127.0.0.1:{hook.port}: delivered",
            f"2. mailto://127.0.0.1:{mail.port}: delivered",
        ]
        assert count(hook, "kassa24: test message") == 1 and count(mail, "kassa24: test message") == 1
        bad = alerts_cli(server, "test", KASSA24_ALERT_URLS=f"{hook.url},{broken.url}")
        assert bad.returncode == 1
        assert f"2. json://127.0.0.1:{broken.port}: NOT delivered" in bad.stdout
        assert "1 of 2 alert URLs did not deliver" in bad.stderr
        for output in (good.stdout + good.stderr, bad.stdout + bad.stderr, (tmp_path / "k.log").read_text()):
            assert hook.token not in output and SMTP_PASSWORD not in output and broken.token not in output
        none = alerts_cli(server, "test", KASSA24_ALERT_URLS="")
        assert none.returncode == 2 and "no alert URLs configured" in none.stderr
        listed = alerts_cli(server, "list", "--format", "json")
        assert listed.returncode == 0 and json.loads(listed.stdout) == {"active": [], "recent": []}
    finally:
        broken.close()


def test_a_config_file_with_alert_urls_must_be_private(tmp_path: Path) -> None:
    config = tmp_path / "k24.toml"
    config.write_text('alert_urls = ["json://127.0.0.1:9/hook-Secret"]\n')
    config.chmod(0o644)
    env = {"PATH": "/usr/bin:/bin", "KASSA24_LOG_FILE": str(tmp_path / "k.log")}
    result = run_cli("--config", str(config), "alerts", "list", env=env)
    assert result.returncode == 2
    assert "holds alert_urls and is readable by others" in result.stderr and "hook-Secret" not in result.stderr


async def test_the_claims_each_decide_once_and_a_stale_evaluation_starts_nothing(tmp_path: Path) -> None:
    """The statements that decide who sends, on a real SQLite store: each claim is won once."""
    from kassa24_console.store import Store
    from kassa24_console.store import alerts as sa

    store = Store(f"sqlite:///{tmp_path / 'k.db'}")
    await store.open()
    try:
        first = await store.write(lambda c: sa.start_alert(c, "k", "errors", "t", "x", 1_000))
        assert first is not None
        assert await store.write(lambda c: sa.start_alert(c, "k", "errors", "t", "x", 1_001)) is None
        assert await store.write(lambda c: sa.claim_repeat(c, "k", "x", 1_500, 1_000)) is None  # too soon
        assert (await store.write(lambda c: sa.claim_repeat(c, "k", "x", 2_000, 1_000))).id == first
        assert await store.write(lambda c: sa.claim_repeat(c, "k", "x", 2_000, 1_000)) is None  # already taken
        assert await store.write(lambda c: sa.acknowledge(c, first, "aigerim", "on it", 2_100))
        assert not await store.write(lambda c: sa.acknowledge(c, first, "dana", "me too", 2_200))
        assert await store.write(lambda c: sa.claim_repeat(c, "k", "x", 9_000, 1_000)) is None  # acknowledged
        assert (await store.write(lambda c: sa.resolve_alert(c, "k", 9_500))).id == first
        assert await store.write(lambda c: sa.resolve_alert(c, "k", 9_600)) is None
        # Evaluated before the condition cleared, written after: no new episode.
        assert await store.write(lambda c: sa.start_alert(c, "k", "errors", "t", "x", 9_400)) is None
        second = await store.write(lambda c: sa.start_alert(c, "k", "errors", "t", "x", 9_700))
        assert second not in (None, first)
        assert await store.scan(sa.active_count) == 1
    finally:
        await store.close()
