"""The simulator: green against our ``serve``, loud against deliberately wrong merchants."""

from __future__ import annotations

import contextlib
import itertools
import json
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from kassa24_console.listener import Listener
from kassa24_console.protocol.signature import signed, verify
from kassa24_console.simulate.catalog import SCENARIOS
from kassa24_console.simulate.platform import Platform, retry_delays
from kassa24_console.simulate.registry import Context, Customers, run_scenarios
from kassa24_console.simulate.seed import seed_accounts
from tests.support.cli import run_cli
from tests.support.common import PROJECT_ID, SECRET, read_body
from tests.support.serve import Server, start_serve
from tests.support.waiting import wait_for


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
    assert [(r.name, r.failures) for r in results if r.failures] == []
    assert len(results) == len(SCENARIOS) == 27
    skipped = {r.name for r in results if r.skips}
    if server.option == 2:
        assert skipped == set()
    else:  # what cannot be seen in option 1 is a SKIP with its reason, never a PASS
        assert "duplicate_callback" in skipped and "happy_path" in skipped
        assert all("response option 1" in reason for r in results for reason in r.skips)


def test_cli_lists_and_exits_by_result(server2: Server, tmp_path: Path) -> None:
    base = ["simulate"]
    env = {**server2.env, "KASSA24_LOG_FILE": "/dev/null"}
    listed = run_cli(*base, "--list", env=env)
    assert listed.returncode == 0 and all(name in listed.stdout for name in SCENARIOS)
    ok = run_cli(
        *base,
        "--url",
        f"{server2.url}/kassa24",
        "--seed-database",
        server2.db_url,
        "--json",
        "happy_path",
        "nothing_due",
        env=env,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert json.loads(ok.stdout)["passed"] == 2
    wrong = tmp_path / "wrong.key"
    wrong.write_text("not-the-key")
    wrong.chmod(0o600)
    wrong_key = run_cli(
        *base,
        "--url",
        f"{server2.url}/kassa24",
        "--secret-key-file",
        str(wrong),
        "--seed-database",
        server2.db_url,
        "happy_path",
        env=env,
    )
    assert wrong_key.returncode == 1
    assert "FAIL happy_path" in wrong_key.stdout and "expected HTTP 200 with code 0" in wrong_key.stdout
    assert "check the secret key" in wrong_key.stdout


def test_the_simulators_key_never_shows_in_ps(server2: Server, tmp_path: Path) -> None:
    """The README's CI example: the key from a private file (or KASSA24_SECRET_KEY), never
    the command line; a key on the command line, or in a file others can read, is refused."""
    base = [sys.executable, "-m", "kassa24_console", "simulate", "--url", f"{server2.url}/kassa24"]
    env = {k: v for k, v in server2.env.items() if k != "KASSA24_SECRET_KEY"} | {"KASSA24_LOG_FILE": "/dev/null"}
    key = tmp_path / "key.txt"
    key.write_text(SECRET + "\n")
    key.chmod(0o600)
    command = [*base, "--secret-key-file", str(key), "--seed-database", server2.db_url, "happy_path", "--json"]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = b""
    while True:  # what ps shows, read every 10 ms until the process ends (not a spin: it ran beside it)
        with contextlib.suppress(OSError):
            seen += Path(f"/proc/{proc.pid}/cmdline").read_bytes()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(0.01)
            break
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, out + err
    assert seen and SECRET.encode() not in seen and json.loads(out)["passed"] == 1
    # What is refused is refused before any process matters: the command runs in-process.
    args = base[3:]  # without the interpreter and ``-m kassa24_console``
    refused = run_cli(*args, "--secret-key", SECRET, "happy_path", env=env)
    assert refused.returncode == 2 and "--secret-key-file" in refused.stderr and SECRET not in refused.stderr
    key.chmod(0o644)
    public = run_cli(*args, "--secret-key-file", str(key), "happy_path", env=env)
    assert public.returncode == 2 and "chmod 600" in public.stderr and SECRET not in public.stderr


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
            request = {
                "type": "check_deposit",
                "project_id": PROJECT_ID,
                "customer_id": customer,
                "amount": body["payment"]["sum"]["amount"],
                "currency": "KZT",
                "payment_method": "kassa24",
            }
            if verify_answer.get("entities"):  # option 2 names the contract; option 1 has none
                request["entity_id"] = verify_answer["entities"][0]["id"]
            deposit = (await forward("/kassa24", request)).json()
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


async def omits_fields(path, body, sig_ok, forward, memory):
    """verify without currency, additional_customer_id and the contracts' numbers."""
    if body.get("type") == "verify" and sig_ok:
        answer = (await forward(path, body)).json()
        answer.pop("currency", None)
        answer.pop("additional_customer_id", None)
        for entity in answer.get("entities", []):
            entity.pop("number", None)
        return 200, answer
    return None


async def ignores_project(path, body, sig_ok, forward, memory):
    if sig_ok and body.get("type") in ("verify", "check_deposit") and body.get("project_id") != PROJECT_ID:
        response = await forward(path, {**body, "project_id": PROJECT_ID})
        return response.status_code, response.json()
    return None


async def ignores_payment_method(path, body, sig_ok, forward, memory):
    if sig_ok and body.get("type") == "check_deposit" and body.get("payment_method") != "kassa24":
        response = await forward(path, {**body, "payment_method": "kassa24"})
        return response.status_code, response.json()
    return None


async def credits_on_processing(path, body, sig_ok, forward, memory):
    if path.endswith("callback") and sig_ok and body["payment"]["status"] == "processing":
        body["payment"]["status"] = body["operation"]["status"] = "success"
        response = await forward(path, body)
        return response.status_code, response.json()
    return None


async def code_point_order_only(path, body, sig_ok, forward, memory):
    """Checks the signature in Python's order only: PHP-signed bodies with digit keys fail."""
    from kassa24_console.protocol.signature import Key, string_to_sign

    given = body.get("signature")
    unsigned = {k: v for k, v in body.items() if k != "signature"}
    if given != Key(SECRET).digest(string_to_sign(unsigned, natural=False)):
        return (400, {"error": "signature"}) if path.endswith("callback") else _answer(400, message="signature")
    return None


async def one_id_per_customer(path, body, sig_ok, forward, memory):
    """Hands every deposit of a customer the same payment_id (the first it issued)."""
    if body.get("type") == "check_deposit" and sig_ok:
        response = await forward(path, body)
        answer = response.json()
        if answer.get("code") == 0:
            answer["payment_id"] = memory.setdefault(body["customer_id"], answer["payment_id"])
        return response.status_code, answer
    return None


async def rounds_float_amounts(path, body, sig_ok, forward, memory):
    """Rounds a float amount to whole minor units instead of refusing it."""
    if body.get("type") == "check_deposit" and sig_ok and isinstance(body.get("amount"), float):
        response = await forward(path, {**body, "amount": round(body["amount"])})
        return response.status_code, response.json()
    return None


async def callbacks_404(path, body, sig_ok, forward, memory):
    return (404, {"error": "no such route"}) if path.endswith("callback") else None


CONFORMANCE: dict[str, Defect] = {
    "wrong_project_id": ignores_project,
    "wrong_payment_method": ignores_payment_method,
    "missing_signature": no_signature_check,
    "signature_sort_orders": code_point_order_only,
    "processing_then_success": credits_on_processing,
    "failing_statuses": decline_as_success,
}

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
    "distinct_payment_ids": one_id_per_customer,
}

# The two wrong merchants that passed every scenario before (issue 17), each with the
# scenario that now catches it.
ONCE_UNCAUGHT: dict[str, Defect] = {
    "distinct_payment_ids": one_id_per_customer,
    "amount_not_integer": rounds_float_amounts,
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


@pytest.mark.parametrize("name", list(ONCE_UNCAUGHT))
async def test_the_two_merchants_that_passed_every_scenario_now_fail_the_kit(
    name: str, server2: Server, wrong_merchant: Callable[[Defect], Awaitable[str]]
) -> None:
    url = await wrong_merchant(ONCE_UNCAUGHT[name])
    platform = platform_for(url)
    try:
        results = await run_scenarios(Context(platform, await customers_in(server2), 2), list(SCENARIOS))
    finally:
        await platform.close()
    failed = {r.name for r in results if r.status == "FAIL"}
    assert name in failed, [(r.name, r.status) for r in results]


async def test_an_unmet_precondition_is_said_and_not_blamed_on_the_merchant(server2: Server) -> None:
    """The payable customer's debts used up (as after a load run): the scenarios that need
    one say so as a skip; none fails."""
    customers = await customers_in(server2)
    with sqlite3.connect(server2.db_path) as connection:
        connection.execute("UPDATE contracts SET payment = 0 WHERE customer_id = ?", (customers.payable,))
    platform = platform_for(server2.url)
    try:
        results = await run_scenarios(Context(platform, customers, 2), list(SCENARIOS))
    finally:
        await platform.close()
    assert [(r.name, r.failures) for r in results if r.failures] == []
    unmet = [r for r in results if any(s.startswith("precondition not met") for s in r.skips)]
    assert len(unmet) >= 15 and all(r.status == "SKIP" for r in unmet)
    assert "has nothing due any more" in unmet[0].skips[0] and "--seed-database" in unmet[0].skips[0]


@pytest.mark.parametrize("name", list(CONFORMANCE))
async def test_each_conformance_scenario_catches_its_fault(
    name: str, server2: Server, wrong_merchant: Callable[[Defect], Awaitable[str]]
) -> None:
    url = await wrong_merchant(CONFORMANCE[name])
    platform = platform_for(url)
    try:
        (result,) = await run_scenarios(Context(platform, await customers_in(server2), 2), [name])
    finally:
        await platform.close()
    assert result.status == "FAIL"
    assert "→" in "\n".join(result.failures) and "←" in "\n".join(result.failures)


async def test_a_merchant_that_omits_required_fields_fails_on_the_shape(
    server2: Server, wrong_merchant: Callable[[Defect], Awaitable[str]]
) -> None:
    url = await wrong_merchant(omits_fields)
    platform = platform_for(url)
    try:
        (result,) = await run_scenarios(Context(platform, await customers_in(server2), 2), ["happy_path"])
    finally:
        await platform.close()
    report = "\n".join(result.failures)
    assert result.status == "FAIL"
    for fault in ("missing 'currency'", "missing 'additional_customer_id'", "entities[0]: missing 'number'"):
        assert fault in report


async def test_crediting_twice_in_option_1_is_a_skip_never_a_pass(tmp_path: Path) -> None:
    server = start_serve(tmp_path, 1)  # in option 2 the same merchant is caught outright (above)
    listener = Listener(WrongMerchant(server.url, credits_every_delivery), "127.0.0.1", 0)  # type: ignore[arg-type]
    await listener.start()
    platform = platform_for(f"http://127.0.0.1:{listener.port}")
    try:
        (result,) = await run_scenarios(Context(platform, await customers_in(server), 1), ["duplicate_callback"])
    finally:
        await platform.close()
        await listener.stop()
        server.stop()
    assert result.status == "SKIP" and not result.passed
    assert "response option 1" in result.skips[0]


def test_a_callback_endpoint_answering_404_fails_within_seconds(server2: Server, tmp_path: Path) -> None:
    import asyncio
    import threading
    import time

    ready, stop = threading.Event(), threading.Event()
    port: list[int] = []

    def run_broken() -> None:
        async def main() -> None:
            listener = Listener(WrongMerchant(server2.url, callbacks_404), "127.0.0.1", 0)  # type: ignore[arg-type]
            await listener.start()
            port.append(listener.port)
            ready.set()
            await asyncio.to_thread(stop.wait)  # until the test is done with it
            await listener.stop()

        asyncio.run(main())

    thread = threading.Thread(target=run_broken)
    thread.start()
    ready.wait(10)
    junit_file = tmp_path / "results.xml"
    started = time.monotonic()
    try:
        result = run_cli(
            "simulate",
            "--url",
            f"http://127.0.0.1:{port[0]}/kassa24",
            "--seed-database",
            server2.db_url,
            "--retry-scale",
            "0.001",  # the README's command: scenarios retry quickly whatever the scale
            "--junit",
            str(junit_file),
            "happy_path",
            "nothing_due",
            env={**server2.env, "KASSA24_LOG_FILE": "/dev/null"},
        )
    finally:
        stop.set()
        thread.join()
    assert time.monotonic() - started < 30
    assert result.returncode == 1
    assert "FAIL happy_path" in result.stdout and "HTTP 404" in result.stdout
    assert result.stdout.index("happy_path") < result.stdout.index("1 passed, 1 failed")  # progress as it runs
    import xml.etree.ElementTree as ET

    suite = ET.parse(junit_file).getroot()
    assert suite.get("tests") == "2" and suite.get("failures") == "1"
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert cases["happy_path"].find("failure") is not None and cases["nothing_due"].find("failure") is None


def test_an_unreachable_merchant_and_a_foreign_database_are_said_plainly(tmp_path: Path) -> None:
    import sqlite3

    from tests.support.common import free_port

    base = ["simulate"]
    env = {"PATH": "/usr/bin:/bin", "KASSA24_LOG_FILE": "/dev/null", "KASSA24_SECRET_KEY": SECRET}
    url = f"http://127.0.0.1:{free_port()}/kassa24"
    for mode in ([], ["--rate", "5", "--duration", "1"]):
        result = run_cli(*base, "--url", url, *mode, env=env)
        assert result.returncode == 2 and f"cannot reach the merchant at {url}" in result.stderr, result.stderr
    foreign = tmp_path / "theirs.db"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY)")
    result = run_cli(*base, "--url", url, "--seed-database", f"sqlite:///{foreign}", env=env)
    assert result.returncode == 2 and "not kassa24-console's (orders)" in result.stderr
    with sqlite3.connect(foreign) as db:
        assert [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")] == ["orders"]


def test_replay_sends_a_stored_request_again_as_it_was_or_changed(server2: Server) -> None:
    from tests.support.bodies import callback_body, deposit_body
    from tests.support.seeding import new_customer

    customer, (contract,) = new_customer(server2, {"payment": 1_000_000})
    payment_id = server2.post(deposit_body(customer, contract, 100_000)).json()["payment_id"]
    assert server2.post(callback_body(payment_id, "decline"), path="/kassa24/callback").status_code == 200
    # This payment's own callback row: records are written in batches, and the module's server
    # holds other tests' callbacks, so "the newest callback" may not be this one yet.
    rows = wait_for(
        lambda: server2.rows("SELECT id FROM traffic WHERE kind = 'callback' AND payment_id = ?", payment_id),
        timeout=10,
        what="the callback's traffic row",
    )
    traffic_id = str(rows[0]["id"])
    base = ["simulate", "replay", traffic_id]
    env = {**server2.env, "KASSA24_LOG_FILE": "/dev/null"}
    target = ["--url", f"{server2.url}/kassa24"]
    same = run_cli(*base, *target, env=env)
    assert same.returncode == 0 and '"outcome": "duplicate"' in same.stdout, same.stdout + same.stderr
    changed = run_cli(*base, *target, "--set", "payment.status=success", "--set", "operation.status=success", env=env)
    assert changed.returncode == 0 and '"outcome": "conflict"' in changed.stdout, changed.stdout
    missing = run_cli(*base[:-1], "999999", *target, env=env)
    assert missing.returncode == 2 and "no traffic record 999999" in missing.stderr
    # A field the record's kind does not carry is refused, not added.
    deposit_id = str(
        server2.rows("SELECT id FROM traffic WHERE kind = 'check_deposit' AND payment_id = ?", payment_id)[0][0]
    )
    foreign = run_cli(*base[:-1], deposit_id, *target, "--set", "payment.status=decline", env=env)
    assert foreign.returncode == 2 and "this check_deposit has no field payment" in foreign.stderr, foreign.stderr
    assert "→ POST" not in foreign.stdout


def test_the_demo_historys_stored_callbacks_replay(tmp_path: Path) -> None:
    """The demo database's callbacks are whole and signed: replayed to the demo merchant,
    each is taken (a duplicate of what it holds), never an HTTP 400."""
    from tests.support.common import free_port
    from tests.support.serve import serve_env, wait_healthy

    port = free_port()
    env = serve_env(tmp_path / "demo.db", port) | {"KASSA24_LOG_FILE": str(tmp_path / "log")}
    del env["KASSA24_SECRET_KEY"]  # the demo key: a fresh database gets the demo data and history
    proc = subprocess.Popen([sys.executable, "-m", "kassa24_console", "serve"], env=env, cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc)
        with sqlite3.connect(tmp_path / "demo.db") as connection:
            ids = [r[0] for r in connection.execute("SELECT id FROM traffic WHERE kind = 'callback' LIMIT 3")]
        assert ids
        for traffic_id in ids:
            done = run_cli("simulate", "replay", str(traffic_id), env=env)
            assert done.returncode == 0 and "← HTTP 200" in done.stdout, done.stdout + done.stderr
    finally:
        proc.terminate()
        proc.wait(10)


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
    """4 s at a fixed rate: a summary, no cycle lost, one paid deposit per successful cycle
    (the 80 cycles prove it as well as 200 did, at 40 % of the CPU)."""
    server = start_serve(tmp_path)
    try:
        result = run_cli(
            "simulate",
            "--url",
            f"{server.url}/kassa24",
            "--seed-database",
            server.db_url,
            "--rate",
            "20",
            "--duration",
            "4",
            "--json",
            env={**server.env, "KASSA24_LOG_FILE": "/dev/null"},
        )
        assert result.returncode == 0, result.stdout + result.stderr
        summary = json.loads(result.stdout)
        paid = server.rows("SELECT count(*) AS n FROM deposits WHERE state = 'paid'")[0]["n"]
    finally:
        server.stop()
    assert 76 <= summary["cycles"] <= 81  # 95 % of rate × duration at least, as before
    assert summary["ok"] == summary["cycles"] and summary["errors"] == {}
    assert paid == summary["ok"]
    assert summary["latency_ms"]["check_deposit"]["n"] == summary["cycles"]
