"""The platform's side of the wire: signed verify, check_deposit and callbacks over httpx.

Every exchange is recorded (request, status, body, latency) so a failed check can show
exactly what was sent and what came back.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from ..protocol.signature import signed
from .keepalive import KeepAlive


@dataclass
class Exchange:
    """One request and what came back (``status`` 0 when nothing did)."""

    kind: str
    request: dict[str, Any] | bytes
    status: int = 0
    body: Any = None
    text: str = ""
    error: str = ""
    latency_ms: float = 0.0

    @property
    def code(self) -> int | None:
        return self.body.get("code") if isinstance(self.body, dict) else None

    def describe(self) -> str:
        sent = self.request if isinstance(self.request, bytes) else json.dumps(self.request, ensure_ascii=False)
        got = self.error or f"HTTP {self.status} {self.text[:500]}"
        return f"  → {self.kind}: {sent!s:.600}\n  ← {got}"


QUICK_RETRIES = (0.2, 0.5, 1.0)


def retry_delays(scale: float = 1.0, max_attempts: int = 120) -> Iterator[float]:
    """Seconds to wait before each retry, on the platform's schedule (platform.md §2).

    6 retries every 10 s, then ``70 + 10·1.12^(n-4)`` s growing to 4 h, then every 4 h;
    ``scale`` shortens it for tests. The first delivery is not a retry.
    """
    for n in range(1, max_attempts):
        delay = 10.0 if n <= 6 else min(70 + 10 * 1.12 ** (n - 4), 4 * 3600.0)
        yield delay * scale


@dataclass
class Platform:
    """Signs and sends what the platform sends, to one merchant."""

    url: str
    callback_url: str
    project_id: int
    secret: str
    timeout: float = 10.0
    retry_scale: float = 1.0
    max_attempts: int = 120
    # Scenarios retry a refused callback a few times quickly and then fail with the answer
    # shown; load and soak runs follow the platform's whole schedule.
    quick: bool = False
    client: httpx.AsyncClient = field(init=False)
    retries: int = 0
    signed_sent: int = 0  # signed requests answered at all, and how many refused the signature
    signature_refused: int = 0

    def __post_init__(self) -> None:
        # Not httpx's own pool: its cost per request grows with the square of the connections
        # open, and a simulator behind schedule reported its own backlog as latency (issue 24).
        self.client = httpx.AsyncClient(timeout=self.timeout, transport=KeepAlive())

    async def close(self) -> None:
        await self.client.aclose()

    async def send(
        self, kind: str, body: dict[str, Any] | bytes, url: str | None = None, *, sign: bool = True
    ) -> Exchange:
        """POST ``body`` (signed unless told otherwise) and record the exchange."""
        payload: dict[str, Any] | bytes = signed(body, self.secret) if sign and isinstance(body, dict) else body
        exchange = Exchange(kind, payload)
        started = time.perf_counter()
        try:
            if isinstance(payload, bytes):
                response = await self.client.post(
                    url or self.url, content=payload, headers={"content-type": "application/json"}
                )
            else:
                response = await self.client.post(url or self.url, json=payload)
        except httpx.TimeoutException:
            exchange.error = "timeout"
        except httpx.HTTPError as error:
            exchange.error = f"{type(error).__name__}: {error}"
        else:
            exchange.status, exchange.text = response.status_code, response.text
            try:
                exchange.body = response.json()
            except ValueError:
                exchange.body = None
        exchange.latency_ms = (time.perf_counter() - started) * 1000
        if sign and not exchange.error:
            self.signed_sent += 1
            refused = exchange.status == 400 if kind == "callback" else exchange.code == 400
            self.signature_refused += refused
        return exchange

    async def verify(self, customer_id: str, **extra: Any) -> Exchange:
        body = {"type": "verify", "project_id": self.project_id, "customer_id": customer_id, **extra}
        return await self.send("verify", body)

    def deposit_body(
        self, customer_id: str, contract: tuple[str, str] | None, amount: Any, **extra: Any
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": "check_deposit",
            "project_id": self.project_id,
            "customer_id": customer_id,
            "amount": amount,
            "currency": "KZT",
            "payment_method": "kassa24",
        }
        if contract is not None:
            body["entity_id"], body["number"] = contract
        body.update(extra)
        return body

    async def check_deposit(
        self, customer_id: str, contract: tuple[str, str] | None, amount: Any, **extra: Any
    ) -> Exchange:
        return await self.send("check_deposit", self.deposit_body(customer_id, contract, amount, **extra))

    def callback_body(
        self, payment_id: str, status: str, amount: int, customer_id: str, operation_id: int = 1
    ) -> dict[str, Any]:
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")
        money = {"amount": amount, "currency": "KZT"}
        return {
            "project_id": self.project_id,
            "payment": {
                "id": payment_id,
                "type": "purchase",
                "status": status,
                "date": now,
                "method": "Kassa24",
                "sum": money,
                "description": "",
            },
            "account": {"number": customer_id},
            "customer": {"id": customer_id},
            "operation": {
                "id": operation_id,
                "type": "sale",
                "status": status,
                "date": now,
                "created_date": now,
                "request_id": f"sim-{payment_id}-{operation_id}",
                "sum_initial": money,
                "sum_converted": money,
                "code": "0" if status == "success" else "100",
                "message": "Success" if status == "success" else "Decline",
                "provider": {"id": 1, "payment_id": f"k24-{operation_id}", "auth_code": ""},
            },
        }

    async def callback(self, body: dict[str, Any] | bytes, *, sign: bool = True, retry: bool = True) -> Exchange:
        """Deliver a callback; anything but HTTP 200 is retried on the platform's schedule
        (or, ``quick``, three times within two seconds)."""
        exchange = await self.send("callback", body, self.callback_url, sign=sign)
        if not retry:
            return exchange
        delays = QUICK_RETRIES if self.quick else retry_delays(self.retry_scale, self.max_attempts)
        for delay in delays:
            if exchange.status == 200:
                break
            self.retries += 1
            await asyncio.sleep(delay)
            exchange = await self.send("callback", body, self.callback_url, sign=sign)
        return exchange
