"""Reconciliation from real records: deposits paid through a real listener, a platform report
in the platform's columns, the reconciliation run in the test's process, and a fake Data API
served over HTTP."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from kassa24_console.config import Settings
from kassa24_console.listener import Listener
from kassa24_console.protocol.signature import signed, verify
from kassa24_console.reconcile.data_api import DataApi
from kassa24_console.reconcile.engine import Period, reconcile, store_operations
from kassa24_console.reconcile.report import read_csv
from kassa24_console.store import Store
from tests.support.bodies import callback_body, deposit_body
from tests.support.common import SECRET, read_body
from tests.support.serve import Server

ZONE = ZoneInfo("Asia/Almaty")


COLUMNS = Settings().report_columns


HEADER = (
    "Operation ID;Payment ID;Project ID;Operation type;Operation status;Payment method;Amount;Currency;"
    "Customer ID;Created;Completed"
)


def today() -> Period:
    day = datetime.now(ZONE).date()
    return Period.of_days(day, day, ZONE)


def settings_for(server: Server) -> Settings:
    return Settings(database_url=server.db_url, secret_key=SECRET, project_id=1234)


def pay(
    server: Server,
    customer: str,
    contract: str,
    amount: int,
    status: str | None = "success",
    callback_amount: int | None = None,
    operation_id: int = 1,
    **callback: Any,
) -> str:
    payment_id = server.post(deposit_body(customer, contract, amount)).json()["payment_id"]
    if status is not None:
        body = callback_body(payment_id, status, callback_amount or amount, operation_id=operation_id, **callback)
        assert server.post(body, path="/kassa24/callback").status_code == 200
    return payment_id


def report_line(
    op: str, payment_id: str, amount: str, status: str = "success", customer: str = "", currency: str = "KZT"
) -> str:
    now = datetime.now(ZONE).strftime("%Y-%m-%d %H:%M:%S")
    return f"{op};{payment_id};1234;sale;{status};Kassa24;{amount};{currency};{customer};{now};{now}"


async def run(
    server: Server, *, now: int | None = None, report: list[str] | None = None, tmp: Path | None = None
) -> list[Any]:
    store = Store(server.db_url)
    await store.open()
    try:
        if report is not None:
            assert tmp is not None
            path = tmp / "report.csv"
            path.write_text("\n".join([HEADER, *report]) + "\n")
            await store_operations(
                store,
                read_csv(path, COLUMNS, unit="major", date_format="%Y-%m-%d %H:%M:%S", timezone="Asia/Almaty"),
                "csv:test",
                today().days,  # the report is the platform's record for today
            )
        summary = await reconcile(store, settings_for(server), today(), now=now)
    finally:
        await store.close()
    return summary.findings


TOKEN_KEY = "data-api-key"


class FakeDataApi:
    """The platform's /v1/operations/get over real HTTP: checks our signature, signs its answer."""

    def __init__(self, operations: list[dict[str, Any]], *, sign_with: str = TOKEN_KEY, delay: float = 0) -> None:
        self.operations, self.sign_with, self.delay = operations, sign_with, delay
        self.requests: list[dict[str, Any]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        raw = await read_body(receive)
        body = json.loads(raw)
        self.requests.append(body)
        await asyncio.sleep(self.delay)
        if scope["path"] != "/v1/operations/get" or not verify(body, TOKEN_KEY) or body["token"] != "T" * 30:
            status, answer = 403, {"error": "bad request signature"}
        else:
            page = self.operations[body["offset"] : body["offset"] + body["limit"]]
            status, answer = 200, signed({"operations": page, "count": len(page)}, self.sign_with)
        await send(
            {"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]}
        )
        await send({"type": "http.response.body", "body": json.dumps(answer).encode()})


def data_api(url: str, timeout: float = 5) -> DataApi:
    s = Settings()
    return DataApi(
        base_url=url,
        token="T" * 30,
        secret=TOKEN_KEY,
        keys=s.data_api_keys,
        fields=s.data_api_fields,
        timeout=timeout,
        amount_unit="minor",
        timezone="Asia/Almaty",
        project_id=1234,
    )


async def serve_asgi(app: Any) -> tuple[Listener, str]:
    listener = Listener(app, "127.0.0.1", 0)
    await listener.start()
    return listener, f"http://127.0.0.1:{listener.port}"


def api_item(i: int) -> dict[str, Any]:
    return {
        "operation_id": i,
        "payment_id": f"p{i}",
        "project_id": 1234,
        "operation_type": "sale",
        "operation_status": "success",
        "payment_method": "Kassa24",
        "amount": 100 + i,
        "currency": "KZT",
        "created_date": "2026-11-27 10:00:00",
        "completed_date": "2026-11-27 10:00:05",
    }


def write_report(path: Path, lines: list[str], encoding: str = "utf-8") -> Path:
    path.write_bytes(("\n".join([HEADER, *lines]) + "\n").encode(encoding))
    return path
