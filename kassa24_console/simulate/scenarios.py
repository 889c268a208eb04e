"""Named scenarios: what the spec requires of a merchant, checked against a live one.

Each scenario drives the platform's messages and records every exchange; a failed check
reports what the spec requires, the request sent and the answer received.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ..i18n import N_
from ..protocol.signature import signed
from . import shapes
from .platform import Exchange, Platform

MIN_AMOUNT, MAX_AMOUNT = 100, 50_000_000


@dataclass
class Contract:
    id: str
    number: str
    payment: int
    min_payment: int | None
    status_code: int


@dataclass
class Customers:
    """Customer ids the scenarios use, by role (demo data by default)."""

    payable: str = "7012345678"
    nothing_due: str = "7045678901"
    blocked: str = "7034567890"


@dataclass
class Context:
    platform: Platform
    customers: Customers
    option: int  # the merchant's response option, 1 or 2


@dataclass
class Check:
    """Collects what did not hold, with the exchanges that show it, and what could not be
    observed (a skip is never a pass)."""

    option: int = 2
    failures: list[str] = field(default_factory=list)
    skips: list[str] = field(default_factory=list)

    def expect(self, condition: bool, requirement: str, *exchanges: Exchange) -> bool:
        if not condition:
            shown = "\n".join(e.describe() for e in exchanges)
            self.failures.append(f"{requirement}\n{shown}" if shown else requirement)
        return condition

    def skip(self, reason: str) -> None:
        if reason not in self.skips:
            self.skips.append(reason)

    def code(self, exchange: Exchange, expected: int | tuple[int, ...], what: str) -> bool:
        """HTTP 200 with one of the ``expected`` codes, and an answer of the right shape."""
        wanted = expected if isinstance(expected, tuple) else (expected,)
        ok = exchange.status == 200 and exchange.code in wanted
        if not self.expect(ok, f"{what}: expected HTTP 200 with code {' or '.join(map(str, wanted))}", exchange):
            return False
        wrong = shapes.problems(exchange.kind, self.option, exchange.body)
        return self.expect(not wrong, f"{what}: the answer's shape: {'; '.join(wrong)}", exchange)

    def http(self, exchange: Exchange, expected: int, what: str) -> bool:
        return self.expect(exchange.status == expected, f"{what}: expected HTTP {expected}", exchange)


class PreconditionUnmet(Exception):
    """What a scenario needs is not there (the simulator's data, not the merchant's fault):
    the scenario stops and says so as a skip, never as the merchant's failure."""


@dataclass
class Scenario:
    name: str
    requires: str
    run: Callable[[Context, Check], Awaitable[None]]


@dataclass
class Result:
    name: str
    requires: str
    failures: list[str]
    skips: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        return "FAIL" if self.failures else "SKIP" if self.skips else "PASS"

    @property
    def passed(self) -> bool:
        return self.status == "PASS"


SCENARIOS: dict[str, Scenario] = {}


def scenario(name: str, requires: str) -> Callable[[Callable[[Context, Check], Awaitable[None]]], Any]:
    def register(run: Callable[[Context, Check], Awaitable[None]]) -> Any:
        SCENARIOS[name] = Scenario(name, requires, run)
        return run

    return register


async def run_scenarios(
    context: Context, names: list[str], on_result: Callable[[Result], None] | None = None
) -> list[Result]:
    """Run ``names`` in order; ``on_result`` hears of each as it ends (progress)."""
    results = []
    for name in names:
        item = SCENARIOS[name]
        check = Check(option=context.option)
        try:
            await item.run(context, check)
        except PreconditionUnmet as unmet:
            check.skip(f"precondition not met: {unmet}")
        except Exception as error:  # a scenario that crashes has failed, with the reason
            check.failures.append(f"scenario stopped: {type(error).__name__}: {error}")
        result = Result(item.name, item.requires, check.failures, check.skips)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


# --- helpers -------------------------------------------------------------------------------


def _entities(exchange: Exchange) -> list[Contract]:
    found = []
    for e in (exchange.body or {}).get("entities") or []:
        if isinstance(e, dict) and "id" in e:
            found.append(
                Contract(
                    str(e["id"]),
                    str(e.get("number", "")),
                    int(e.get("payment") or 0),
                    e.get("min_payment"),
                    int(e.get("status_code") or 0),
                )
            )
    return found


async def _payable(ctx: Context, check: Check) -> tuple[Contract | None, Exchange]:
    """The payable customer's first open contract with something due (option 2). Nothing
    due at all (a load run used the debts up) is the simulator's unmet precondition."""
    exchange = await ctx.platform.verify(ctx.customers.payable)
    payable = ctx.customers.payable
    if exchange.status == 200 and exchange.code == 204:
        raise PreconditionUnmet(
            f"customer {payable} has nothing due any more (used up by earlier runs): "
            "pass --seed-database URL for fresh accounts, or --customer payable=ID"
        )
    if not check.code(exchange, 0, f"verify of payable customer {payable}"):
        return None, exchange
    if ctx.option == 1:
        return None, exchange
    contract = next((c for c in _entities(exchange) if c.status_code == 0 and c.payment > 0), None)
    check.expect(
        contract is not None, "verify (option 2) lists a contract with status_code 0 and payment > 0", exchange
    )
    return contract, exchange


def _amount(contract: Contract | None) -> int:
    return max(MIN_AMOUNT, (contract.min_payment or 0) if contract else 0)


def _ref(contract: Contract | None) -> tuple[str, str] | None:
    return (contract.id, contract.number) if contract else None


async def _deposit(ctx: Context, check: Check, contract: Contract | None, amount: int) -> str | None:
    exchange = await ctx.platform.check_deposit(ctx.customers.payable, _ref(contract), amount)
    if not check.code(exchange, 0, "check_deposit for a valid amount"):
        return None
    payment_id = (exchange.body or {}).get("payment_id")
    check.expect(isinstance(payment_id, str) and bool(payment_id), "code 0 carries a non-empty payment_id", exchange)
    return payment_id if isinstance(payment_id, str) else None


UNOBSERVABLE = "the amount due cannot be observed in response option 1 (verify lists no contracts)"


async def _expect_due(ctx: Context, check: Check, contract: Contract | None, expected: int, requirement: str) -> None:
    """Verify again and check what is due on ``contract``; in option 1 it cannot be seen:
    the check is a SKIP with that reason, never a pass."""
    if contract is None:
        check.skip(UNOBSERVABLE)
        return
    after = await ctx.platform.verify(ctx.customers.payable)
    now = next((c for c in _entities(after) if c.id == contract.id), None)
    check.expect(now is not None and now.payment == expected, requirement, after)


async def _rejected(
    ctx: Context, check: Check, what: str, contract: Contract | None, amount: Any, **extra: Any
) -> None:
    exchange = await ctx.platform.check_deposit(ctx.customers.payable, _ref(contract), amount, **extra)
    check.code(exchange, 500, what)
    check.expect("payment_id" not in (exchange.body or {}), f"{what}: no payment_id is issued", exchange)


# --- scenarios -----------------------------------------------------------------------------


@scenario("happy_path", N_("verify → check_deposit → success callback: codes 0, a payment_id, HTTP 200, due lowered"))
async def happy_path(ctx: Context, check: Check) -> None:
    contract, amount, payment_id = await _new_deposit(ctx, check)
    if payment_id is None:
        return
    body = ctx.platform.callback_body(payment_id, "success", amount, ctx.customers.payable)
    check.http(await ctx.platform.callback(body), 200, "success callback")
    requirement = f"after the callback the amount due is lowered by {amount}"
    await _expect_due(ctx, check, contract, max(contract.payment - amount, 0) if contract else 0, requirement)


@scenario("unknown_account", N_("verify and check_deposit for an account that does not exist: code 404"))
async def unknown_account(ctx: Context, check: Check) -> None:
    customer = f"sim-unknown-{secrets.token_hex(4)}"
    check.code(await ctx.platform.verify(customer), 404, "verify of an unknown account")
    deposit = await ctx.platform.check_deposit(customer, ("x", "x") if ctx.option == 2 else None, 10_000)
    check.code(deposit, 404, "check_deposit for an unknown account")


@scenario("nothing_due", N_("verify of an account with nothing due: code 204 (option 2), 0 (option 1)"))
async def nothing_due(ctx: Context, check: Check) -> None:
    exchange = await ctx.platform.verify(ctx.customers.nothing_due)
    check.code(exchange, 204 if ctx.option == 2 else 0, f"verify of {ctx.customers.nothing_due}")


@scenario(
    "blocked_contract", N_("a contract with status_code ≠ 0 is shown, and check_deposit into it is refused (500)")
)
async def blocked_contract(ctx: Context, check: Check) -> None:
    exchange = await ctx.platform.verify(ctx.customers.blocked)
    if not check.code(exchange, (0, 204), f"verify of {ctx.customers.blocked}") or ctx.option == 1:
        return
    blocked = next((c for c in _entities(exchange) if c.status_code != 0), None)
    if check.expect(blocked is not None, "verify lists the blocked contract with its status_code", exchange):
        assert blocked is not None
        deposit = await ctx.platform.check_deposit(ctx.customers.blocked, _ref(blocked), _amount(blocked))
        check.code(deposit, 500, "check_deposit into a blocked contract")


@scenario("amount_below_minimum", N_("amount below 1.00 KZT or the contract's min_payment: code 500, no payment_id"))
async def amount_below_minimum(ctx: Context, check: Check) -> None:
    contract, _ = await _payable(ctx, check)
    await _rejected(ctx, check, "amount 99 (below 1.00 KZT)", contract, MIN_AMOUNT - 1)
    if contract is not None and contract.min_payment and contract.min_payment > MIN_AMOUNT:
        await _rejected(ctx, check, "amount below the contract's min_payment", contract, contract.min_payment - 1)


@scenario("amount_above_maximum", N_("amount above 500,000.00 KZT: code 500, no payment_id"))
async def amount_above_maximum(ctx: Context, check: Check) -> None:
    contract, _ = await _payable(ctx, check)
    await _rejected(ctx, check, "amount 50,000,001", contract, MAX_AMOUNT + 1)


@scenario(
    "amount_not_integer", N_("amount not an integer of minor units (10 000,00; a fraction above the minimum): 500")
)
async def amount_not_integer(ctx: Context, check: Check) -> None:
    contract, _ = await _payable(ctx, check)
    await _rejected(ctx, check, "amount '10 000,00'", contract, "10 000,00")
    # Above any minimum, so that only the fraction can make it wrong (a merchant that rounds
    # 100.5 is hidden by a minimum above it).
    fraction = _amount(contract) + 0.5
    await _rejected(ctx, check, f"amount {fraction} (above the contract's minimum)", contract, fraction)


@scenario("wrong_currency", N_("check_deposit in a currency other than KZT: code 500"))
async def wrong_currency(ctx: Context, check: Check) -> None:
    contract, _ = await _payable(ctx, check)
    await _rejected(ctx, check, "currency USD", contract, _amount(contract), currency="USD")


def _tamper(body: dict[str, Any], platform: Platform) -> dict[str, Any]:
    forged = signed(body, platform.secret)
    forged["signature"] = forged["signature"][:-4] + ("AAA=" if not forged["signature"].endswith("AAA=") else "BBB=")
    return forged


@scenario("bad_signature_verify", N_("verify with a wrong signature: code 400"))
async def bad_signature_verify(ctx: Context, check: Check) -> None:
    body = {"type": "verify", "project_id": ctx.platform.project_id, "customer_id": ctx.customers.payable}
    exchange = await ctx.platform.send("verify", _tamper(body, ctx.platform), sign=False)
    check.code(exchange, 400, "verify with a bad signature")


@scenario("bad_signature_check_deposit", N_("check_deposit with a wrong signature: code 400, no payment_id"))
async def bad_signature_check_deposit(ctx: Context, check: Check) -> None:
    contract, _ = await _payable(ctx, check)
    body = ctx.platform.deposit_body(ctx.customers.payable, _ref(contract), _amount(contract))
    exchange = await ctx.platform.send("check_deposit", _tamper(body, ctx.platform), sign=False)
    check.code(exchange, 400, "check_deposit with a bad signature")
    check.expect("payment_id" not in (exchange.body or {}), "no payment_id for a bad signature", exchange)


@scenario("bad_signature_callback", N_("a callback with a wrong signature: HTTP 400, and it is not applied"))
async def bad_signature_callback(ctx: Context, check: Check) -> None:
    contract, amount, payment_id = await _new_deposit(ctx, check)
    if payment_id is None:
        return
    body = ctx.platform.callback_body(payment_id, "success", amount, ctx.customers.payable)
    forged = await ctx.platform.callback(_tamper(body, ctx.platform), sign=False, retry=False)
    check.http(forged, 400, "callback with a bad signature")
    due = contract.payment if contract else 0
    await _expect_due(ctx, check, contract, due, "a forged callback does not change the amount due")


@scenario("declined_payment", N_("a decline callback: HTTP 200, amount due unchanged"))
async def declined_payment(ctx: Context, check: Check) -> None:
    contract, amount, payment_id = await _new_deposit(ctx, check)
    if payment_id is None:
        return
    body = ctx.platform.callback_body(payment_id, "decline", amount, ctx.customers.payable)
    check.http(await ctx.platform.callback(body), 200, "decline callback")
    await _expect_due(ctx, check, contract, contract.payment if contract else 0, "a decline leaves the amount due")


async def _new_deposit(ctx: Context, check: Check) -> tuple[Contract | None, int, str | None]:
    contract, _ = await _payable(ctx, check)
    amount = _amount(contract)
    return contract, amount, await _deposit(ctx, check, contract, amount)


async def _due_lowered_once(ctx: Context, check: Check, contract: Contract | None, amount: int) -> None:
    expected = max(contract.payment - amount, 0) if contract else 0
    await _expect_due(ctx, check, contract, expected, "the payment is credited exactly once")


@scenario("duplicate_callback", N_("the same success callback twice: HTTP 200 both times, credited once"))
async def duplicate_callback(ctx: Context, check: Check) -> None:
    contract, amount, payment_id = await _new_deposit(ctx, check)
    if payment_id is None:
        return
    body = ctx.platform.callback_body(payment_id, "success", amount, ctx.customers.payable)
    check.http(await ctx.platform.callback(body), 200, "first delivery")
    check.http(await ctx.platform.callback(body), 200, "repeated delivery")
    await _due_lowered_once(ctx, check, contract, amount)


@scenario(
    "callbacks_out_of_order",
    N_("success, then an older 'processing', then success again: all HTTP 200, credited once"),
)
async def callbacks_out_of_order(ctx: Context, check: Check) -> None:
    contract, amount, payment_id = await _new_deposit(ctx, check)
    if payment_id is None:
        return
    customer = ctx.customers.payable
    success = ctx.platform.callback_body(payment_id, "success", amount, customer, operation_id=2)
    processing = ctx.platform.callback_body(payment_id, "processing", amount, customer, operation_id=1)
    check.http(await ctx.platform.callback(success), 200, "success callback")
    check.http(await ctx.platform.callback(processing), 200, "late 'processing' callback")
    check.http(await ctx.platform.callback(success), 200, "success callback again")
    await _due_lowered_once(ctx, check, contract, amount)


@scenario("conflicting_statuses", N_("success, then decline for the same payment: both HTTP 200, success stays"))
async def conflicting_statuses(ctx: Context, check: Check) -> None:
    contract, amount, payment_id = await _new_deposit(ctx, check)
    if payment_id is None:
        return
    customer = ctx.customers.payable
    check.http(
        await ctx.platform.callback(ctx.platform.callback_body(payment_id, "success", amount, customer, 5)),
        200,
        "success callback",
    )
    check.http(
        await ctx.platform.callback(ctx.platform.callback_body(payment_id, "decline", amount, customer, 6)),
        200,
        "conflicting decline callback",
    )
    await _due_lowered_once(ctx, check, contract, amount)


@scenario(
    "unknown_payment_callback",
    N_("a callback for a payment id never issued: HTTP 200 (kept for reconciliation; retries would not help)"),
)
async def unknown_payment_callback(ctx: Context, check: Check) -> None:
    body = ctx.platform.callback_body(
        f"sim-never-issued-{secrets.token_hex(4)}", "success", 10_000, ctx.customers.payable
    )
    check.http(await ctx.platform.callback(body, retry=False), 200, "callback for an unknown payment id")


@scenario("check_deposit_retried", N_("the same check_deposit twice: code 0 both times; paying one credits once"))
async def check_deposit_retried(ctx: Context, check: Check) -> None:
    contract, _ = await _payable(ctx, check)
    amount = _amount(contract)
    body = ctx.platform.deposit_body(ctx.customers.payable, _ref(contract), amount)
    first = await ctx.platform.send("check_deposit", body)
    second = await ctx.platform.send("check_deposit", body)
    if not (check.code(first, 0, "first check_deposit") and check.code(second, 0, "repeated check_deposit")):
        return
    payment_id = second.body.get("payment_id")
    if check.expect(isinstance(payment_id, str) and bool(payment_id), "a payment_id in the answer", second):
        callback = ctx.platform.callback_body(payment_id, "success", amount, ctx.customers.payable)
        check.http(await ctx.platform.callback(callback), 200, "success callback for the retried deposit")
        await _due_lowered_once(ctx, check, contract, amount)


from . import conformance  # noqa: E402,F401  (registers the conformance scenarios after these)
