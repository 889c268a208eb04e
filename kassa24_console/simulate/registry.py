"""The scenario registry: what a scenario is, how one runs, and the helpers every scenario
module shares.

Scenario modules (``scenarios``: the spec's requirements; ``conformance``: the faults
integrators ship) register into it with :func:`scenario`; :mod:`.catalog` gathers them in
the order they run. Nothing here imports a scenario module.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

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
    module: str  # the scenario module that registered it (the catalog orders by module)


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


REGISTERED: dict[str, Scenario] = {}


def scenario(name: str, requires: str) -> Callable[[Callable[[Context, Check], Awaitable[None]]], Any]:
    """Register the decorated coroutine as scenario ``name``; ``requires`` (marked for
    translation) says what the spec asks of the merchant. A name is registered once."""

    def register(run: Callable[[Context, Check], Awaitable[None]]) -> Any:
        if name in REGISTERED:
            raise ValueError(f"scenario {name!r} is registered twice")
        REGISTERED[name] = Scenario(name, requires, run, run.__module__)
        return run

    return register


def registered_by(module: str) -> list[Scenario]:
    """The scenarios ``module`` registered, in the order it did."""
    return [item for item in REGISTERED.values() if item.module == module]


async def run_scenarios(
    context: Context, names: list[str], on_result: Callable[[Result], None] | None = None
) -> list[Result]:
    """Run ``names`` (registered scenarios) in order; ``on_result`` hears of each as it ends
    (progress)."""
    results = []
    for name in names:
        item = REGISTERED[name]
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


# --- helpers the scenario modules share ----------------------------------------------------


def listed_contracts(exchange: Exchange) -> list[Contract]:
    """The contracts a verify answer lists (option 2), read the same way by every scenario."""
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


async def payable_contract(ctx: Context, check: Check) -> tuple[Contract | None, Exchange]:
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
    contract = next((c for c in listed_contracts(exchange) if c.status_code == 0 and c.payment > 0), None)
    check.expect(
        contract is not None, "verify (option 2) lists a contract with status_code 0 and payment > 0", exchange
    )
    return contract, exchange


def amount_for(contract: Contract | None) -> int:
    """The smallest amount the contract accepts (1.00 KZT, or its min_payment)."""
    return max(MIN_AMOUNT, (contract.min_payment or 0) if contract else 0)


def contract_ref(contract: Contract | None) -> tuple[str, str] | None:
    return (contract.id, contract.number) if contract else None


async def open_deposit(ctx: Context, check: Check, contract: Contract | None, amount: int) -> str | None:
    """A check_deposit that must be accepted: its payment id, or None (the failure recorded)."""
    exchange = await ctx.platform.check_deposit(ctx.customers.payable, contract_ref(contract), amount)
    if not check.code(exchange, 0, "check_deposit for a valid amount"):
        return None
    payment_id = (exchange.body or {}).get("payment_id")
    check.expect(isinstance(payment_id, str) and bool(payment_id), "code 0 carries a non-empty payment_id", exchange)
    return payment_id if isinstance(payment_id, str) else None


UNOBSERVABLE = "the amount due cannot be observed in response option 1 (verify lists no contracts)"


async def expect_due(ctx: Context, check: Check, contract: Contract | None, expected: int, requirement: str) -> None:
    """Verify again and check what is due on ``contract``; in option 1 it cannot be seen:
    the check is a SKIP with that reason, never a pass."""
    if contract is None:
        check.skip(UNOBSERVABLE)
        return
    after = await ctx.platform.verify(ctx.customers.payable)
    now = next((c for c in listed_contracts(after) if c.id == contract.id), None)
    check.expect(now is not None and now.payment == expected, requirement, after)


async def expect_rejected(
    ctx: Context, check: Check, what: str, contract: Contract | None, amount: Any, **extra: Any
) -> None:
    exchange = await ctx.platform.check_deposit(ctx.customers.payable, contract_ref(contract), amount, **extra)
    check.code(exchange, 500, what)
    check.expect("payment_id" not in (exchange.body or {}), f"{what}: no payment_id is issued", exchange)


async def new_deposit(ctx: Context, check: Check) -> tuple[Contract | None, int, str | None]:
    """A deposit into the payable customer's contract: the contract, the amount, the payment id."""
    contract, _ = await payable_contract(ctx, check)
    amount = amount_for(contract)
    return contract, amount, await open_deposit(ctx, check, contract, amount)


async def due_lowered_once(ctx: Context, check: Check, contract: Contract | None, amount: int) -> None:
    expected = max(contract.payment - amount, 0) if contract else 0
    await expect_due(ctx, check, contract, expected, "the payment is credited exactly once")


def tampered(body: dict[str, Any], platform: Platform) -> dict[str, Any]:
    """``body`` signed, then its signature spoiled (still base64, no longer the key's)."""
    forged = signed(body, platform.secret)
    forged["signature"] = forged["signature"][:-4] + ("AAA=" if not forged["signature"].endswith("AAA=") else "BBB=")
    return forged
