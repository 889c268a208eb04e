"""Scenarios that catch the faults integrators actually ship: a merchant that never checks the
project or the payment method, credits on ``processing`` or a failing status, trusts a
callback's amount, verifies signatures in one sort order only, or hands two deposits one
payment id.

Registered into :mod:`.registry` beside the spec's scenarios; :mod:`.catalog` runs them after those.
"""

from __future__ import annotations

import secrets

from ..i18n import N_
from ..protocol.codes import FAILED_STATUSES
from ..protocol.signature import Key, string_to_sign
from .registry import (
    Check,
    Context,
    amount_for,
    contract_ref,
    expect_due,
    listed_contracts,
    new_deposit,
    payable_contract,
    scenario,
)


def _refused(check: Check, exchange, what: str) -> None:
    ok = exchange.status == 200 and isinstance(exchange.code, int) and exchange.code != 0
    check.expect(ok, f"{what}: expected a non-zero code", exchange)
    check.expect("payment_id" not in (exchange.body or {}), f"{what}: no payment_id may be issued", exchange)


@scenario(
    "wrong_project_id", N_("verify and check_deposit for another project id: refused (non-zero code), no payment_id")
)
async def wrong_project_id(ctx: Context, check: Check) -> None:
    contract, _ = await payable_contract(ctx, check)
    other = ctx.platform.project_id + 1
    verify = await ctx.platform.verify(ctx.customers.payable, project_id=other)
    _refused(check, verify, f"verify for project {other}")
    ref, amount = contract_ref(contract), amount_for(contract)
    body = ctx.platform.deposit_body(ctx.customers.payable, ref, amount, project_id=other)
    _refused(check, await ctx.platform.send("check_deposit", body), f"check_deposit for project {other}")


@scenario("wrong_payment_method", N_("check_deposit with payment_method other than kassa24: refused, no payment_id"))
async def wrong_payment_method(ctx: Context, check: Check) -> None:
    contract, _ = await payable_contract(ctx, check)
    exchange = await ctx.platform.check_deposit(
        ctx.customers.payable, contract_ref(contract), amount_for(contract), payment_method="card"
    )
    _refused(check, exchange, "check_deposit with payment_method 'card'")


@scenario(
    "missing_signature", N_("verify, check_deposit (code 400) and a callback (HTTP 400) with no signature at all")
)
async def missing_signature(ctx: Context, check: Check) -> None:
    contract, _ = await payable_contract(ctx, check)
    p = ctx.platform
    verify = {"type": "verify", "project_id": p.project_id, "customer_id": ctx.customers.payable}
    check.code(await p.send("verify", verify, sign=False), 400, "verify without a signature")
    deposit = p.deposit_body(ctx.customers.payable, contract_ref(contract), amount_for(contract))
    exchange = await p.send("check_deposit", deposit, sign=False)
    check.code(exchange, 400, "check_deposit without a signature")
    check.expect("payment_id" not in (exchange.body or {}), "no payment_id without a signature", exchange)
    callback = p.callback_body(f"sim-unsigned-{secrets.token_hex(4)}", "success", 10_000, ctx.customers.payable)
    check.http(await p.callback(callback, sign=False, retry=False), 400, "callback without a signature")


@scenario(
    "signature_sort_orders",
    N_("a body whose natural and code-point key orders differ (keys with digits), signed in each: both accepted"),
)
async def signature_sort_orders(ctx: Context, check: Check) -> None:
    p = ctx.platform
    body = {
        "type": "verify",
        "project_id": p.project_id,
        "customer_id": ctx.customers.payable,
        "extra": {"field2": "a", "field10": "b"},
    }
    natural, codepoint = string_to_sign(body, natural=True), string_to_sign(body, natural=False)
    assert natural != codepoint
    key = Key(p.secret)
    for name, text in (("natural (PHP)", natural), ("code-point (Python)", codepoint)):
        exchange = await p.send("verify", {**body, "signature": key.digest(text)}, sign=False)
        check.code(exchange, (0, 204), f"verify signed in {name} order")


@scenario("processing_then_success", N_("'processing' changes nothing (HTTP 200); the success after it credits once"))
async def processing_then_success(ctx: Context, check: Check) -> None:
    contract, amount, payment_id = await new_deposit(ctx, check)
    if payment_id is None:
        return
    customer = ctx.customers.payable
    processing = ctx.platform.callback_body(payment_id, "processing", amount, customer, operation_id=1)
    check.http(await ctx.platform.callback(processing), 200, "'processing' callback")
    await expect_due(ctx, check, contract, contract.payment if contract else 0, "'processing' credits nothing")
    success = ctx.platform.callback_body(payment_id, "success", amount, customer, operation_id=2)
    check.http(await ctx.platform.callback(success), 200, "success callback after 'processing'")
    expected = max((contract.payment if contract else 0) - amount, 0)
    await expect_due(ctx, check, contract, expected, "the success credits once")


@scenario("failing_statuses", N_("each failing final status (decline, expired, error, …): HTTP 200, nothing credited"))
async def failing_statuses(ctx: Context, check: Check) -> None:
    for status in sorted(FAILED_STATUSES):
        contract, amount, payment_id = await new_deposit(ctx, check)
        if payment_id is None:
            return
        body = ctx.platform.callback_body(payment_id, status, amount, ctx.customers.payable)
        check.http(await ctx.platform.callback(body), 200, f"'{status}' callback")
        await expect_due(ctx, check, contract, contract.payment if contract else 0, f"'{status}' credits nothing")


async def _odd_success(ctx: Context, check: Check, what: str, amount_of: int | None, currency: str = "KZT") -> None:
    contract, amount, payment_id = await new_deposit(ctx, check)
    if payment_id is None:
        return
    body = ctx.platform.callback_body(payment_id, "success", amount, ctx.customers.payable)
    sent = amount if amount_of is None else amount_of
    for money in (body["payment"]["sum"], body["operation"]["sum_initial"], body["operation"]["sum_converted"]):
        money["amount"], money["currency"] = sent, currency
    check.http(await ctx.platform.callback(body), 200, f"success callback with {what} (stored, flagged: answer 200)")
    if contract is None:
        await expect_due(ctx, check, None, 0, "")
        return
    after = await ctx.platform.verify(ctx.customers.payable)
    now = next((c for c in listed_contracts(after) if c.id == contract.id), None)
    ok = now is not None and contract.payment - amount <= now.payment <= contract.payment
    check.expect(ok, f"after a success with {what} the amount due never rises and drops by at most the deposit", after)


@scenario(
    "callback_amount_differs", N_("a success whose amount is larger than the deposit: HTTP 200, due drops ≤ deposit")
)
async def callback_amount_differs(ctx: Context, check: Check) -> None:
    contract, _ = await payable_contract(ctx, check)
    await _odd_success(ctx, check, "three times the deposit's amount", 3 * amount_for(contract))


@scenario("callback_currency_differs", N_("a success in another currency: HTTP 200, the amount due never rises"))
async def callback_currency_differs(ctx: Context, check: Check) -> None:
    await _odd_success(ctx, check, "currency USD", None, "USD")


@scenario("negative_amount_callback", N_("a success with a negative amount: HTTP 200, the amount due never rises"))
async def negative_amount_callback(ctx: Context, check: Check) -> None:
    contract, _ = await payable_contract(ctx, check)
    await _odd_success(ctx, check, "a negative amount", -amount_for(contract))


@scenario("distinct_payment_ids", N_("two deposits of one customer (even one retried): each its own payment_id"))
async def distinct_payment_ids(ctx: Context, check: Check) -> None:
    contract, _ = await payable_contract(ctx, check)
    amount = amount_for(contract)
    first = await ctx.platform.check_deposit(ctx.customers.payable, contract_ref(contract), amount)
    second = await ctx.platform.check_deposit(ctx.customers.payable, contract_ref(contract), amount + 100)
    if not (check.code(first, 0, "first check_deposit") and check.code(second, 0, "second check_deposit")):
        return
    ids = [(e.body or {}).get("payment_id") for e in (first, second)]
    check.expect(
        ids[0] != ids[1],
        "expected two payment ids for two deposits, got one for both (a callback for one would credit the other)",
        first,
        second,
    )
