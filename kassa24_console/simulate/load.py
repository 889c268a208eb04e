"""Load: full payment cycles (verify → check_deposit → success callback) at a rate or a concurrency.

Open loop with ``rate``: cycles start on schedule whether or not earlier ones finished, so
a slow merchant cannot slow the offered load. Every cycle ends counted: ok, or an error by
kind; nothing is dropped.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .platform import Exchange, Platform
from .registry import Contract, listed_contracts


@dataclass
class LoadReport:
    started: int = 0
    ok: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    latencies: dict[str, list[float]] = field(
        default_factory=lambda: {"verify": [], "check_deposit": [], "callback": []}
    )
    retries: int = 0
    elapsed: float = 0.0
    paid: list[str] = field(default_factory=list)

    @property
    def finished(self) -> int:
        return self.ok + sum(self.errors.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "cycles": self.started,
            "ok": self.ok,
            "errors": dict(self.errors),
            "retries": self.retries,
            "elapsed_s": round(self.elapsed, 3),
            "cycles_per_s": round(self.ok / self.elapsed, 1) if self.elapsed else 0.0,
            "latency_ms": {kind: percentiles(values) for kind, values in self.latencies.items()},
        }


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0, "p50": 0.0, "p90": 0.0, "p99": 0.0, "max": 0.0}
    ordered = sorted(values)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)], 2)

    return {"n": len(ordered), "p50": pick(0.5), "p90": pick(0.9), "p99": pick(0.99), "max": round(ordered[-1], 2)}


def _failure(exchange: Exchange, expected: str) -> str | None:
    """The error kind of an exchange, or None when it is what the spec expects."""
    if exchange.error:
        return f"{exchange.kind}: {'timeout' if exchange.error == 'timeout' else 'connection error'}"
    if exchange.kind == "callback":
        return None if exchange.status == 200 else f"callback: HTTP {exchange.status}"
    if exchange.status != 200:
        return f"{exchange.kind}: HTTP {exchange.status}"
    if str(exchange.code) != expected:
        return f"{exchange.kind}: code {exchange.code}"
    return None


async def discover(platform: Platform, customers: list[str], option: int) -> list[tuple[str, Contract | None]]:
    """Payable (customer, contract) pairs: contracts with status_code 0 (option 2), or accounts (option 1)."""
    found: list[tuple[str, Contract | None]] = []
    for customer in customers:
        exchange = await platform.verify(customer)
        if exchange.code not in (0, 204):
            continue
        if option == 1:
            found.append((customer, None))
        else:
            found.extend((customer, c) for c in listed_contracts(exchange) if c.status_code == 0)
    return found


async def _cycle(platform: Platform, target: tuple[str, Contract | None], report: LoadReport) -> None:
    customer, contract = target
    amount = max(100, (contract.min_payment or 0) if contract else 0)
    verify = await platform.verify(customer)
    report.latencies["verify"].append(verify.latency_ms)
    nothing_due = verify.status == 200 and verify.code == 204  # still payable: paying ahead is allowed
    if (kind := None if nothing_due else _failure(verify, "0")) is not None:
        report.errors[kind] += 1
        return
    reference = (contract.id, contract.number) if contract else None
    deposit = await platform.check_deposit(customer, reference, amount)
    report.latencies["check_deposit"].append(deposit.latency_ms)
    if (kind := _failure(deposit, "0")) is not None:
        report.errors[kind] += 1
        return
    payment_id = str(deposit.body.get("payment_id"))
    callback = await platform.callback(platform.callback_body(payment_id, "success", amount, customer))
    report.latencies["callback"].append(callback.latency_ms)
    if (kind := _failure(callback, "")) is not None:
        report.errors[kind] += 1
        return
    report.ok += 1
    report.paid.append(payment_id)


async def run_load(
    platform: Platform,
    targets: list[tuple[str, Contract | None]],
    *,
    duration: float,
    rate: float | None = None,
    concurrency: int | None = None,
    progress: Callable[[LoadReport, float], None] | None = None,
) -> LoadReport:
    """Run cycles for ``duration`` seconds; wait for the stragglers; count everything."""
    report = LoadReport()
    if not targets:
        report.errors["no payable customer found"] += 1
        return report
    chooser = random.Random(24)
    tasks: set[asyncio.Task[None]] = set()
    started = time.perf_counter()

    async def guarded() -> None:
        try:
            await _cycle(platform, chooser.choice(targets), report)
        except Exception as error:  # counted, never lost
            report.errors[f"simulator: {type(error).__name__}"] += 1

    def launch() -> None:
        report.started += 1
        task = asyncio.create_task(guarded())
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    async def ticker() -> None:
        while progress is not None:
            progress(report, time.perf_counter() - started)
            await asyncio.sleep(0.25)

    ticking = asyncio.create_task(ticker())
    try:
        if rate:
            interval = 1.0 / rate
            n = 0
            while (now := time.perf_counter() - started) < duration:
                due = n * interval
                if due > now:
                    await asyncio.sleep(due - now)
                    continue
                launch()
                n += 1
        else:
            limit = concurrency or 1

            async def worker() -> None:
                while time.perf_counter() - started < duration:
                    report.started += 1
                    await guarded()

            await asyncio.gather(*(worker() for _ in range(limit)))
        if tasks:
            await asyncio.gather(*tasks)
    finally:
        ticking.cancel()
    report.elapsed = time.perf_counter() - started
    report.retries = platform.retries
    if progress is not None:
        progress(report, report.elapsed)
    return report
