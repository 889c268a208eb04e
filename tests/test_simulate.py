"""The simulator: green against our ``serve``, loud against deliberately wrong merchants."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import PROJECT_ID, SECRET, Server, read_body, start_serve

from kassa24_console.listener import Listener
from kassa24_console.protocol.signature import signed, verify
from kassa24_console.simulate.platform import Platform, retry_delays
from kassa24_console.simulate.run import seed_accounts
from kassa24_console.simulate.scenarios import SCENARIOS, Context, Customers, run_scenarios


def platform_for(url: str, **extra: Any) -> Platform:
    return Platform(
        url=f"{url}/kassa24",
        callback_url=f"{url}/kassa24/callback",
        project_id=PROJECT_ID,
        secret=SECRET,
        retry_scale=0.0001,
        max_attempts=4,
        timeout=5,
        **extra,
    )


async def customers_in(server: Server) -> Customers:
    seeded = await seed_accounts(server.db_url, load_accounts=0)
    return Customers(payable=seeded["payable"], nothing_due=seeded["nothing_due"], blocked=seeded["blocked"])


async def test_all_scenarios_pass_against_serve(server: Server) -> None:
    platform = platform_for(server.url)
    try:
        results = await run_scenarios(Context(platform, await customers_in(server), server.option), list(SCENARIOS))
    finally:
        await platform.close()
    assert [(r.name, r.failures) for r in results if not r.passed] == []
    assert len(results) == len(SCENARIOS) == 17


def test_cli_lists_and_exits_by_result(server2: Server) -> None:
    base = [sys.executable, "-m", "kassa24_console.cli", "simulate"]
    env = {**server2.env, "KASSA24_LOG_FILE": "/dev/null"}
    listed = subprocess.run([*base, "--list"], capture_output=True, text=True, env=env, timeout=30)
    assert listed.returncode == 0 and all(name in listed.stdout for name in SCENARIOS)
    ok = subprocess.run(
        [
            *base,
            "--url",
            f"{server2.url}/kassa24",
            "--seed-database",
            server2.db_url,
            "--json",
            "happy_path",
            "nothing_due",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert json.loads(ok.stdout)["passed"] == 2
    wrong_key = subprocess.run(
        [
            *base,
            "--url",
            f"{server2.url}/kassa24",
            "--secret-key",
            "not-the-key",
            "--seed-database",
            server2.db_url,
            "happy_path",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert wrong_key.returncode == 1
    assert "FAIL happy_path" in wrong_key.stdout and "expected HTTP 200 with code 0" in wrong_key.stdout


# --- deliberately wrong merchants ----------------------------------------------------------

Forward = Callable[[str, dict[str, Any]], Awaitable[httpx.Response]]
Defect = Callable[[str, dict[str, Any], bool, Forward, dict[str, Any]], Awaitable[tuple[int, dict[str, Any]] | None]]


def _answer(code: int, **extra: Any) -> tuple[int, dict[str, Any]]:
    return 200, {"code": code, **extra}


async def ack_without_storing(path, body, sig_ok, forward, memory):
    return (200, {}) if path.endswith("callback") else None


async def unknown_is_500(path, body, sig_ok, forward, memory):
    if str(body.get("customer_id", "")).startswith("sim-unknown"):
        return _answer(500, message="oops")
    return None


async def nothing_due_as_0(path, body, sig_ok, forward, memory):
    if body.get("type") == "verify":
        response = await forward(path, body)
        answer = response.json()
        return 200, {**answer, "code": 0 if answer.get("code") == 204 else answer.get("code")}
    return None


async def accepts_any_deposit(path, body, sig_ok, forward, memory):
    """No checks at all on check_deposit: blocked, minimum, maximum, integers, currency."""
    if body.get("type") == "check_deposit" and sig_ok:
        return _answer(0, payment_id="wrong-1")
    return None


async def no_signature_check(path, body, sig_ok, forward, memory):
    if not sig_ok:
        response = await forward(path, body)  # re-signed: as if the forged body were genuine
        return response.status_code, response.json()
    return None


async def decline_as_success(path, body, sig_ok, forward, memory):
    if path.endswith("callback") and body["payment"]["status"] == "decline":
        body["payment"]["status"] = body["operation"]["status"] = "success"
        response = await forward(path, body)
        return response.status_code, response.json()
    return None


async def credits_every_delivery(path, body, sig_ok, forward, memory):
    """Applies each delivery as a new payment: the same money credited again and again."""
    if path.endswith("callback") and body["payment"]["status"] == "success":
        key = body["payment"]["id"]
        if key in memory:
            customer = body["customer"]["id"]
            verify_answer = (
                await forward("/kassa24", {"type": "verify", "project_id": PROJECT_ID, "customer_id": customer})
            ).json()
            entity = verify_answer["entities"][0]
            deposit = (
                await forward(
                    "/kassa24",
                    {
                        "type": "check_deposit",
                        "project_id": PROJECT_ID,
                        "customer_id": customer,
                        "entity_id": entity["id"],
                        "amount": body["payment"]["sum"]["amount"],
                        "currency": "KZT",
                        "payment_method": "kassa24",
                    },
                )
            ).json()
            body["payment"]["id"] = deposit["payment_id"]
        memory[key] = True
        response = await forward(path, body)
        return response.status_code, response.json()
    return None


async def non_final_is_500(path, body, sig_ok, forward, memory):
    if path.endswith("callback") and body["payment"]["status"] == "processing":
        return 500, {"error": "unknown status"}
    return None


async def refuses_conflicts(path, body, sig_ok, forward, memory):
    """Answers 409 to a final status that contradicts an earlier one, every time it comes."""
    if path.endswith("callback"):
        payment_id, status = body["payment"]["id"], body["payment"]["status"]
        if memory.setdefault(payment_id, status) != status:
            return 409, {"error": "conflict"}
    return None


async def unknown_payment_404(path, body, sig_ok, forward, memory):
    if path.endswith("callback") and str(body["payment"]["id"]).startswith("sim-never"):
        return 404, {"error": "no such payment"}
    return None


async def repeated_deposit_500(path, body, sig_ok, forward, memory):
    if body.get("type") == "check_deposit":
        key = json.dumps(body, sort_keys=True)
        if key in memory:
            return _answer(500, message="duplicate")
        memory[key] = True
    return None


WRONG: dict[str, Defect] = {
    "happy_path": ack_without_storing,
    "unknown_account": unknown_is_500,
    "nothing_due": nothing_due_as_0,
    "blocked_contract": accepts_any_deposit,
    "amount_below_minimum": accepts_any_deposit,
    "amount_above_maximum": accepts_any_deposit,
    "amount_not_integer": accepts_any_deposit,
    "wrong_currency": accepts_any_deposit,
    "bad_signature_verify": no_signature_check,
    "bad_signature_check_deposit": no_signature_check,
    "bad_signature_callback": no_signature_check,
    "declined_payment": decline_as_success,
    "duplicate_callback": credits_every_delivery,
    "callbacks_out_of_order": non_final_is_500,
    "conflicting_statuses": refuses_conflicts,
    "unknown_payment_callback": unknown_payment_404,
    "check_deposit_retried": repeated_deposit_500,
}


class WrongMerchant:
    """An ASGI merchant in front of the real one, with one deliberate defect."""

    def __init__(self, real: str, defect: Defect) -> None:
        self.real, self.defect, self.memory = real, defect, {}
        self.client = httpx.AsyncClient(timeout=10)

    async def forward(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return await self.client.post(self.real + path, json=signed(body, SECRET))

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        raw = await read_body(receive)
        body = json.loads(raw)
        sig_ok = verify(body, SECRET)
        answer = await self.defect(scope["path"], dict(body), sig_ok, self.forward, self.memory)
        if answer is None:
            response = await self.client.post(
                self.real + scope["path"], content=raw, headers={"content-type": "application/json"}
            )
            answer = (response.status_code, response.json())
        status, payload = answer
        await send(
            {"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]}
        )
        await send({"type": "http.response.body", "body": json.dumps(payload).encode()})


@pytest.fixture
async def wrong_merchant(server2: Server) -> AsyncIterator[Callable[[Defect], Awaitable[str]]]:
    listeners: list[Listener] = []

    async def start(defect: Defect) -> str:
        listener = Listener(WrongMerchant(server2.url, defect), "127.0.0.1", 0)  # type: ignore[arg-type]
        await listener.start()
        listeners.append(listener)
        return f"http://127.0.0.1:{listener.port}"

    yield start
    for listener in listeners:
        await listener.stop()


@pytest.mark.parametrize("name", list(WRONG))
async def test_each_scenario_fails_loudly_against_a_wrong_merchant(
    name: str, server2: Server, wrong_merchant: Callable[[Defect], Awaitable[str]]
) -> None:
    url = await wrong_merchant(WRONG[name])
    platform = platform_for(url)
    try:
        context = Context(platform, await customers_in(server2), 2)
        (result,) = await run_scenarios(context, [name])
        (control,) = await run_scenarios(Context(platform_for(server2.url), context.customers, 2), [name])
    finally:
        await platform.close()
    assert control.passed, control.failures  # the same scenario passes against the real merchant
    assert not result.passed
    report = "\n".join(result.failures)
    assert "expected" in report or "credited exactly once" in report or "amount due" in report, report
    assert "→" in report and "←" in report  # the request and the answer are shown


# --- callback delivery like the platform's -------------------------------------------------


def test_retry_schedule_follows_the_platform() -> None:
    delays = list(retry_delays())
    assert len(delays) == 119  # at most 120 attempts
    assert delays[:6] == [10.0] * 6
    assert delays[6] == pytest.approx(70 + 10 * 1.12**3)
    assert max(delays) == 4 * 3600.0 and delays[-1] == 4 * 3600.0
    assert all(b >= a for a, b in itertools.pairwise(delays))
    assert sum(delays) < 11 * 24 * 3600
    assert next(iter(retry_delays(0.001))) == pytest.approx(0.01)


async def test_callbacks_are_retried_until_200() -> None:
    attempts: list[int] = []

    async def flaky(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await receive()
        attempts.append(1)
        status = 503 if len(attempts) < 3 else 200
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    listener = Listener(flaky, "127.0.0.1", 0)  # type: ignore[arg-type]
    await listener.start()
    platform = platform_for(
        f"http://127.0.0.1:{listener.port}",
    )
    platform.max_attempts = 10
    try:
        exchange = await platform.callback(platform.callback_body("p1", "success", 100, "c1"))
    finally:
        await platform.close()
        await listener.stop()
    assert exchange.status == 200
    assert len(attempts) == 3 and platform.retries == 2


# --- load ----------------------------------------------------------------------------------


def test_load_run_accounts_for_every_cycle(tmp_path: Path) -> None:
    """30 s at a fixed rate: a summary, no cycle lost, one paid deposit per successful cycle."""
    server = start_serve(tmp_path)
    try:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "kassa24_console.cli",
                "simulate",
                "--url",
                f"{server.url}/kassa24",
                "--seed-database",
                server.db_url,
                "--rate",
                "20",
                "--duration",
                "30",
                "--json",
            ],
            capture_output=True,
            text=True,
            env={**server.env, "KASSA24_LOG_FILE": "/dev/null"},
            timeout=120,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        summary = json.loads(result.stdout)
        paid = server.rows("SELECT count(*) AS n FROM deposits WHERE state = 'paid'")[0]["n"]
    finally:
        server.stop()
    assert 590 <= summary["cycles"] <= 601
    assert summary["ok"] == summary["cycles"] and summary["errors"] == {}
    assert paid == summary["ok"]
    assert summary["latency_ms"]["check_deposit"]["n"] == summary["cycles"]
