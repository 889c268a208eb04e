"""The spec's requirements of a merchant as named scenarios, checked against a live one.

Each scenario drives the platform's messages and records every exchange; a failed check
reports what the spec requires, the request sent and the answer received. The faults
integrators actually ship are in :mod:`.conformance`; both register into :mod:`.registry`.
"""

from __future__ import annotations

import secrets

from ..i18n import N_
from .registry import (
    MAX_AMOUNT,
    MIN_AMOUNT,
    Check,
    Context,
    amount_for,
    contract_ref,
    due_lowered_once,
    expect_due,
    expect_rejected,
    listed_contracts,
    new_deposit,
    payable_contract,
    scenario,
    tampered,
)

# --- scenarios -----------------------------------------------------------------------------


@scenario("happy_path", N_("verify → check_deposit → success callback: codes 0, a payment_id, HTTP 200, due lowered"))
async def happy_path(ctx: Context, check: Check) -> None:
    contract, amount, payment_id = await new_deposit(ctx, check)
    if payment_id is None:
        return
    body = ctx.platform.callback_body(payment_id, "success", amount, ctx.customers.payable)
    check.http(await ctx.platform.callback(body), 200, "success callback")
    requirement = f"after the callback the amount due is lowered by {amount}"
    await expect_due(ctx, check, contract, max(contract.payment - amount, 0) if contract else 0, requirement)


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
    blocked = next((c for c in listed_contracts(exchange) if c.status_code != 0), None)
    if check.expect(blocked is not None, "verify lists the blocked contract with its status_code", exchange):
        assert blocked is not None
        deposit = await ctx.platform.check_deposit(ctx.customers.blocked, contract_ref(blocked), amount_for(blocked))
        check.code(deposit, 500, "check_deposit into a blocked contract")


@scenario("amount_below_minimum", N_("amount below 1.00 KZT or the contract's min_payment: code 500, no payment_id"))
async def amount_below_minimum(ctx: Context, check: Check) -> None:
    contract, _ = await payable_contract(ctx, check)
    await expect_rejected(ctx, check, "amount 99 (below 1.00 KZT)", contract, MIN_AMOUNT - 1)
    if contract is not None and contract.min_payment and contract.min_payment > MIN_AMOUNT:
        await expect_rejected(ctx, check, "amount below the contract's min_payment", contract, contract.min_payment - 1)


@scenario("amount_above_maximum", N_("amount above 500,000.00 KZT: code 500, no payment_id"))
async def amount_above_maximum(ctx: Context, check: Check) -> None:
    contract, _ = await payable_contract(ctx, check)
    await expect_rejected(ctx, check, "amount 50,000,001", contract, MAX_AMOUNT + 1)


@scenario(
    "amount_not_integer", N_("amount not an integer of minor units (10 000,00; a fraction above the minimum): 500")
)
async def amount_not_integer(ctx: Context, check: Check) -> None:
    contract, _ = await payable_contract(ctx, check)
    await expect_rejected(ctx, check, "amount '10 000,00'", contract, "10 000,00")
    # Above any minimum, so that only the fraction can make it wrong (a merchant that rounds
    # 100.5 is hidden by a minimum above it).
    fraction = amount_for(contract) + 0.5
    await expect_rejected(ctx, check, f"amount {fraction} (above the contract's minimum)", contract, fraction)


@scenario("wrong_currency", N_("check_deposit in a currency other than KZT: code 500"))
async def wrong_currency(ctx: Context, check: Check) -> None:
    contract, _ = await payable_contract(ctx, check)
    await expect_rejected(ctx, check, "currency USD", contract, amount_for(contract), currency="USD")


@scenario("bad_signature_verify", N_("verify with a wrong signature: code 400"))
async def bad_signature_verify(ctx: Context, check: Check) -> None:
    body = {"type": "verify", "project_id": ctx.platform.project_id, "customer_id": ctx.customers.payable}
    exchange = await ctx.platform.send("verify", tampered(body, ctx.platform), sign=False)
    check.code(exchange, 400, "verify with a bad signature")


@scenario("bad_signature_check_deposit", N_("check_deposit with a wrong signature: code 400, no payment_id"))
async def bad_signature_check_deposit(ctx: Context, check: Check) -> None:
    contract, _ = await payable_contract(ctx, check)
    body = ctx.platform.deposit_body(ctx.customers.payable, contract_ref(contract), amount_for(contract))
    exchange = await ctx.platform.send("check_deposit", tampered(body, ctx.platform), sign=False)
    check.code(exchange, 400, "check_deposit with a bad signature")
    check.expect("payment_id" not in (exchange.body or {}), "no payment_id for a bad signature", exchange)


@scenario("bad_signature_callback", N_("a callback with a wrong signature: HTTP 400, and it is not applied"))
async def bad_signature_callback(ctx: Context, check: Check) -> None:
    contract, amount, payment_id = await new_deposit(ctx, check)
    if payment_id is None:
        return
    body = ctx.platform.callback_body(payment_id, "success", amount, ctx.customers.payable)
    forged = await ctx.platform.callback(tampered(body, ctx.platform), sign=False, retry=False)
    check.http(forged, 400, "callback with a bad signature")
    due = contract.payment if contract else 0
    await expect_due(ctx, check, contract, due, "a forged callback does not change the amount due")


@scenario("declined_payment", N_("a decline callback: HTTP 200, amount due unchanged"))
async def declined_payment(ctx: Context, check: Check) -> None:
    contract, amount, payment_id = await new_deposit(ctx, check)
    if payment_id is None:
        return
    body = ctx.platform.callback_body(payment_id, "decline", amount, ctx.customers.payable)
    check.http(await ctx.platform.callback(body), 200, "decline callback")
    await expect_due(ctx, check, contract, contract.payment if contract else 0, "a decline leaves the amount due")


@scenario("duplicate_callback", N_("the same success callback twice: HTTP 200 both times, credited once"))
async def duplicate_callback(ctx: Context, check: Check) -> None:
    contract, amount, payment_id = await new_deposit(ctx, check)
    if payment_id is None:
        return
    body = ctx.platform.callback_body(payment_id, "success", amount, ctx.customers.payable)
    check.http(await ctx.platform.callback(body), 200, "first delivery")
    check.http(await ctx.platform.callback(body), 200, "repeated delivery")
    await due_lowered_once(ctx, check, contract, amount)


@scenario(
    "callbacks_out_of_order",
    N_("success, then an older 'processing', then success again: all HTTP 200, credited once"),
)
async def callbacks_out_of_order(ctx: Context, check: Check) -> None:
    contract, amount, payment_id = await new_deposit(ctx, check)
    if payment_id is None:
        return
    customer = ctx.customers.payable
    success = ctx.platform.callback_body(payment_id, "success", amount, customer, operation_id=2)
    processing = ctx.platform.callback_body(payment_id, "processing", amount, customer, operation_id=1)
    check.http(await ctx.platform.callback(success), 200, "success callback")
    check.http(await ctx.platform.callback(processing), 200, "late 'processing' callback")
    check.http(await ctx.platform.callback(success), 200, "success callback again")
    await due_lowered_once(ctx, check, contract, amount)


@scenario("conflicting_statuses", N_("success, then decline for the same payment: both HTTP 200, success stays"))
async def conflicting_statuses(ctx: Context, check: Check) -> None:
    contract, amount, payment_id = await new_deposit(ctx, check)
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
    await due_lowered_once(ctx, check, contract, amount)


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
    contract, _ = await payable_contract(ctx, check)
    amount = amount_for(contract)
    body = ctx.platform.deposit_body(ctx.customers.payable, contract_ref(contract), amount)
    first = await ctx.platform.send("check_deposit", body)
    second = await ctx.platform.send("check_deposit", body)
    if not (check.code(first, 0, "first check_deposit") and check.code(second, 0, "repeated check_deposit")):
        return
    payment_id = second.body.get("payment_id")
    if check.expect(isinstance(payment_id, str) and bool(payment_id), "a payment_id in the answer", second):
        callback = ctx.platform.callback_body(payment_id, "success", amount, ctx.customers.payable)
        check.http(await ctx.platform.callback(callback), 200, "success callback for the retried deposit")
        await due_lowered_once(ctx, check, contract, amount)
