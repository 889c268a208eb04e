"""A believable history for the demo database, consistent with data/demo/platform-report.csv.

Five days (2026-11-23 … 27, Asia/Almaty) of deposits, callbacks and traffic for the demo
customers, and the platform's report of the same days with the differences a real desk
meets planted in it: an operation we have no deposit for, a payment we credited that the
report lacks, a success we never heard of (still pending here), an amount that differs, a
payment the platform recorded twice, a retried check_deposit, a deposit that waits for a
callback that never came, and two live findings (a callback for an unknown payment id,
one whose signature failed). The
first start of a demo database loads the history (``python -m kassa24_console.demo_history``
writes both files again).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from .config import DEMO_SECRET_KEY
from .findings import action_for
from .i18n import gettext_in
from .protocol.codes import MESSAGES, Code
from .protocol.signature import signed
from .store import Store, changes
from .zones import zone as time_zone

ZONE = time_zone("Asia/Almaty")
FIRST = datetime(2026, 11, 23, 9, 0, tzinfo=ZONE)
DAYS = 5
CUSTOMERS = [
    ("7012345678", "C-10001", "1001_ALM/15-01-2025/Kz7Qm1"),
    ("7012345678", "C-10002", "1002_ALM/03-06-2025/Kz7Qm2"),
    ("7023456789", "C-20001", "2001_AST/20-02-2024/Eb4Lx9"),
    ("7034567890", "C-30002", "3002_ALM/01-03-2025/Ik2Vr6"),
    ("7056789012", "C-50001", "5001_KRG/18-07-2025/Go1Aq4"),
    ("7067890123", "C-60001", "6001_ALM/27-11-2025/Ti5Pb7"),
]
SOURCE = Path(__file__).resolve().parent.parent / "data" / "demo"  # in a checkout


def history_file() -> Path:
    """The demo history: inside the wheel, or beside the package in a checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "demo" / "history.json", SOURCE / "history.json"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("the demo history (data/demo/history.json) is not installed")


def _us(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def _pid(n: int) -> str:
    return f"k24_DEMO{n:022d}"


def build() -> tuple[dict[str, list[dict[str, Any]]], list[str]]:
    """(rows by table, report lines): the history and the platform's report of it."""
    deposits, callbacks, traffic, mismatches, report = [], [], [], [], []
    n = 0
    for day in range(DAYS):
        for slot, (customer, contract, number) in enumerate(CUSTOMERS):
            n += 1
            at = FIRST + timedelta(days=day, minutes=47 * slot + 13 * day)
            amount = 500_000 + 25_000 * ((n * 7) % 9)
            deposits.append(_deposit(n, customer, contract, number, amount, at, "paid"))
            callbacks.append(_callback(n, customer, amount, at + timedelta(seconds=40), "success"))
            traffic += _traffic(n, customer, contract, amount, at)
            report.append(_line(70_000_000 + n, n, amount, "success", customer, at))
    # The differences a desk meets (days 26 and 27).
    extra = n
    report.append(_line(70_009_001, 9001, 1_500_000, "success", "7045678901", FIRST + timedelta(days=4, hours=2)))
    missing = 22  # credited here, absent from the platform's record
    report[:] = [line for line in report if f";{_pid(missing)};" not in line]
    never_heard = extra + 1  # the platform says success; no callback ever came: pending here
    at = FIRST + timedelta(days=4, hours=3)
    deposits.append(_deposit(never_heard, "7023456789", "C-20001", CUSTOMERS[2][2], 890_000, at, "pending"))
    traffic += _traffic(never_heard, "7023456789", "C-20001", 890_000, at, callback=False)
    report.append(_line(70_000_000 + never_heard, never_heard, 890_000, "success", "7023456789", at))
    differs = 27  # the platform's amount differs from ours
    report[next(i for i, line in enumerate(report) if f";{_pid(differs)};" in line)] = _line(
        70_000_000 + differs,
        differs,
        deposits[differs - 1]["amount"] - 10_000,
        "success",
        CUSTOMERS[2][0],
        datetime.fromtimestamp(deposits[differs - 1]["created_at"] / 1e6, ZONE),
    )
    twice = 29  # the platform recorded one payment twice
    report.append(
        _line(
            70_100_000 + twice,
            twice,
            deposits[twice - 1]["amount"],
            "success",
            CUSTOMERS[4][0],
            datetime.fromtimestamp(deposits[twice - 1]["created_at"] / 1e6, ZONE) + timedelta(seconds=2),
        )
    )
    retry = extra + 2  # the terminal's check_deposit retried: a second payment id, never paid
    paid_at = datetime.fromtimestamp(deposits[-3]["created_at"] / 1e6, ZONE)
    twin = deposits[-3]
    deposits.append(
        _deposit(
            retry,
            twin["customer_id"],
            twin["contract_id"],
            twin["number"],
            twin["amount"],
            paid_at + timedelta(seconds=20),
            "pending",
        )
    )
    waiting = extra + 3  # waits for a callback that never came, and is not in the report either
    at = FIRST + timedelta(days=4, hours=6)
    deposits.append(_deposit(waiting, "7067890123", "C-60001", CUSTOMERS[5][2], 300_000, at, "pending"))
    unknown = {"payment_id": "k24_DEMO_UNKNOWN", "status": "success", "amount": 120_000}
    callbacks.append(
        {
            **_callback(0, None, 120_000, FIRST + timedelta(days=4, hours=5), "success"),
            "payment_id": unknown["payment_id"],
            "dedupe_key": "k24_DEMO_UNKNOWN|1|success",
            "outcome": "unknown_payment",
            "deposit_id": None,
        }
    )
    mismatches.append(
        _mismatch(
            "unknown_payment",
            "unknown_payment:k24_DEMO_UNKNOWN",
            "k24_DEMO_UNKNOWN",
            {"callback": unknown},
            FIRST + timedelta(days=4, hours=5),
        )
    )
    return {"deposits": deposits, "callbacks": callbacks, "traffic": traffic, "mismatches": mismatches}, report


def _deposit(n: int, customer: str, contract: str, number: str, amount: int, at: datetime, state: str) -> dict:
    return {
        "payment_id": _pid(n),
        "customer_id": customer,
        "contract_id": contract,
        "number": number,
        "amount": amount,
        "currency": "KZT",
        "state": state,
        "paid_amount": amount if state == "paid" else None,
        "created_at": _us(at),
        "updated_at": _us(at + timedelta(seconds=40)),
    }


def _callback_body(n: int, customer: str | None, amount: int, at: datetime, status: str) -> dict[str, Any]:
    """The callback the platform sent, whole and signed with the demo key: replayable
    (``simulate replay ID``) like any stored callback."""
    pid = _pid(n)
    date = at.astimezone(time_zone("UTC")).strftime("%Y-%m-%dT%H:%M:%S+0000")
    total = {"amount": amount, "currency": "KZT"}
    body = {
        "project_id": 1234,
        "payment": {"id": pid, "type": "purchase", "status": status, "date": date, "method": "Kassa24",
                    "sum": total, "description": ""},
        "account": {"number": "123456"},
        "customer": {"id": customer},
        "operation": {"id": 70_000_000 + n, "type": "sale", "status": status, "date": date, "created_date": date,
                      "request_id": f"demo-{n}", "sum_initial": total, "sum_converted": total,
                      "code": "0" if status == "success" else "100", "message": status,
                      "provider": {"id": 1, "payment_id": f"demo-{n}", "auth_code": ""}},
    }  # fmt: skip
    return signed(body, DEMO_SECRET_KEY)


def _callback(n: int, customer: str | None, amount: int, at: datetime, status: str) -> dict:
    pid = _pid(n)
    raw = _callback_body(n, customer, amount, at, status)
    return {
        "received_at": _us(at),
        "last_received_at": _us(at),
        "deliveries": 1,
        "dedupe_key": f"{pid}|{70_000_000 + n}|{status}",
        "signature_ok": True,
        "payment_id": pid,
        "operation_id": str(70_000_000 + n),
        "status": status,
        "operation_status": status,
        "amount": amount,
        "currency": "KZT",
        "customer_id": customer,
        "deposit_id": pid,
        "outcome": "applied",
        "raw": json.dumps(raw, ensure_ascii=False),
    }


def _traffic(n: int, customer: str, contract: str, amount: int, at: datetime, callback: bool = True) -> list[dict]:
    def row(kind: str, moment: datetime, code: int | None, http: int = 200, **extra: Any) -> dict:
        return {
            "at": _us(moment),
            "kind": kind,
            "customer_id": customer,
            "contract_id": extra.get("contract"),
            "amount": extra.get("amount"),
            "code": code,
            "http_status": http,
            "signature_ok": True,
            "latency_us": 1500 + 37 * n,
            "peer": "185.0.0.17:443",
            "request": json.dumps({"type": kind, "project_id": 1234, "customer_id": customer}),
            "response": json.dumps({"code": code} if code is not None else {"status": "ok"}),
            "sig_form": "natural",
            "payment_id": extra.get("payment_id"),
        }

    # Answered as the service answers: the check_deposit's carries the payment id it minted.
    deposited = row("check_deposit", at, 0, contract=contract, amount=amount, payment_id=_pid(n))
    said = gettext_in("ru", MESSAGES[Code.OK])  # the payer's language by default
    deposited["response"] = json.dumps({"code": 0, "payment_id": _pid(n), "description": said}, ensure_ascii=False)
    rows = [row("verify", at - timedelta(seconds=30), 0), deposited]
    if callback:
        sent = row("callback", at + timedelta(seconds=40), None, amount=amount, payment_id=_pid(n))
        sent["request"] = json.dumps(_callback_body(n, customer, amount, at + timedelta(seconds=40), "success"))
        sent["response"] = json.dumps({"status": "ok", "outcome": "applied"})
        rows.append(sent)
    return rows


def _mismatch(kind: str, key: str, payment_id: str, evidence: dict, at: datetime) -> dict:
    return {
        "key": key,
        "kind": kind,
        "payment_id": payment_id,
        "evidence": evidence,
        "action": action_for(kind, payment_id, evidence),
        "found_at": _us(at),
        "occurred_at": _us(at),
        "state": "open",
        "note": "",
    }


def _line(operation: int, n: int, amount: int, status: str, customer: str, at: datetime) -> str:
    major = f"{amount // 100:,}".replace(",", " ") + f",{amount % 100:02d}"
    done = at + timedelta(seconds=36)
    when = f"{at:%Y-%m-%d %H:%M:%S};{done:%Y-%m-%d %H:%M:%S}"
    return f"{operation};{_pid(n)};1234;sale;{status};Kassa24;{major};KZT;{customer};{when}"


async def load_history(store: Store) -> int:
    """Write the demo history into a fresh demo database (rows written)."""
    tables = json.loads(history_file().read_text(encoding="utf-8"))
    project = store.default_project

    def job(connection: Connection) -> None:
        for name in ("deposits", "callbacks", "traffic", "mismatches"):  # the demo's rows are the (first) project's
            changes.insert_history(connection, name, [{**row, "project_id": project} for row in tables[name]])

    await store.write(job)
    return sum(len(rows) for rows in tables.values())


def main() -> None:
    tables, report = build()
    (SOURCE / "history.json").write_text(json.dumps(tables, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    header = (
        "Operation ID;Payment ID;Project ID;Operation type;Operation status;Payment method;Amount;Currency;"
        "Customer ID;Created;Completed"
    )
    (SOURCE / "platform-report.csv").write_text("\n".join([header, *report]) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
