"""Payments streamed at a real ``serve`` from a thread until told to stop: each deposit issued
and each callback acknowledged is noted, for what a crash must not lose."""

from __future__ import annotations

import threading

import httpx

from kassa24_console.protocol.signature import signed
from tests.support.bodies import callback_body, deposit_body
from tests.support.common import SECRET
from tests.support.serve import Server


def stream_payments(
    server: Server, customer: str, contract: str, issued: list[str], acknowledged: list[str], stop: threading.Event
) -> None:
    client = httpx.Client(timeout=2)
    while not stop.is_set():
        try:
            answer = client.post(server.url + "/kassa24", json=signed(deposit_body(customer, contract, 100), SECRET))
            payment_id = answer.json().get("payment_id")
            if answer.json().get("code") == 0:
                issued.append(payment_id)
                cb = client.post(
                    server.url + "/kassa24/callback", json=signed(callback_body(payment_id, amount=100), SECRET)
                )
                if cb.status_code == 200:
                    acknowledged.append(payment_id)
        except (httpx.HTTPError, ValueError):
            return
