"""The protocol's rules: verify, check_deposit and callbacks → an answer and stored facts.

Each handler takes the raw request body and returns a :class:`Reply`: the HTTP status and
JSON to send, plus what the traffic record should say. Business outcomes are never
exceptions; only a failing database is, and it becomes a 500 (protocol) or 503 (callback,
so the platform retries) without anything half-written.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select

from .config import Settings
from .ids import new_payment_id
from .money import plain
from .protocol import codes, signature
from .protocol.codes import Code
from .protocol.messages import (
    BadMessage,
    Callback,
    CheckDepositRequest,
    VerifyRequest,
    looks_like_callback,
    parse,
    parse_json,
)
from .reconcile import rules
from .store import Store, now_us
from .store import queries as q

log = logging.getLogger(__name__)


@dataclass
class Reply:
    """What to answer, and what the traffic record says about the exchange."""

    http_status: int
    body: dict[str, Any]
    kind: str
    code: int | None = None
    signature_ok: bool | None = None
    customer_id: str | None = None
    contract_id: str | None = None
    amount: int | None = None
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)


class Service:
    """The merchant side of one project."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store

    # --- the merchant URL: verify and check_deposit ------------------------------------

    async def handle_merchant(self, raw: bytes) -> Reply:
        """``POST /kassa24``: verify or check_deposit by ``type``; callbacks are passed on."""
        try:
            data = parse_json(raw)
        except BadMessage as error:
            return self._error("unknown", Code.ERROR, str(error))
        if looks_like_callback(data):
            return await self._callback(data, raw)
        kind = data.get("type") if data.get("type") in ("verify", "check_deposit") else "unknown"
        customer = data.get("customer_id")
        customer_id = customer if isinstance(customer, str) else None
        if not signature.verify(data, self.settings.secret):
            message = codes.MESSAGES[Code.SIGNATURE]
            return self._error(kind, Code.SIGNATURE, message, customer_id=customer_id, signature_ok=False)
        reply = await self._signed(kind, data, customer_id)
        reply.signature_ok = True
        return reply

    async def _signed(self, kind: str, data: dict[str, Any], customer_id: str | None) -> Reply:
        """A request whose signature verified: parse it and apply the rules."""
        try:
            if kind == "verify":
                return await self._verify(parse(VerifyRequest, data))
            if kind == "check_deposit":
                return await self._check_deposit(parse(CheckDepositRequest, data))
        except BadMessage as error:
            return self._error(kind, Code.ERROR, str(error), customer_id=customer_id)
        expected = "expected 'verify' or 'check_deposit'"
        return self._error(kind, Code.ERROR, f"unknown type {data.get('type')!r}: {expected}")

    async def _verify(self, request: VerifyRequest) -> Reply:
        context = {"customer_id": request.customer_id}
        if request.project_id != self.settings.project_id:
            return self._error("verify", Code.ERROR, self._wrong_project(request.project_id), **context)
        account, contracts = await self.store.read(q.account_with_contracts, request.customer_id)
        if account is None:
            return self._error("verify", Code.NOT_FOUND, codes.MESSAGES[Code.NOT_FOUND], **context)
        if self.settings.response_option == 1:
            body: dict[str, Any] = {"code": int(Code.OK), "currency": account.currency}
            if account.additional_customer_id:
                body["additional_customer_id"] = account.additional_customer_id
            return self._ok("verify", body, **context)
        due = any(c.payment > 0 for c in contracts)
        code = Code.OK if due else Code.NO_DEBT
        body = {
            "code": int(code),
            "currency": account.currency,
            "additional_customer_id": account.additional_customer_id or account.customer_id,
            "entities": [_entity(c) for c in contracts],
        }
        if code != Code.OK:
            body["message"] = codes.MESSAGES[code]
        return self._ok("verify", body, **context)

    async def _check_deposit(self, request: CheckDepositRequest) -> Reply:
        context = {
            "customer_id": request.customer_id,
            "contract_id": request.entity_id,
            "amount": request.amount,
        }
        if request.project_id != self.settings.project_id:
            return self._error("check_deposit", Code.ERROR, self._wrong_project(request.project_id), **context)
        account, contracts = await self.store.read(q.account_with_contracts, request.customer_id)
        if account is None:
            return self._error("check_deposit", Code.NOT_FOUND, codes.MESSAGES[Code.NOT_FOUND], **context)
        contract = None
        try:
            self._check_amount(request, account)
            contract = self._pick_contract(request, contracts)
        except BadMessage as error:
            return self._error("check_deposit", Code.ERROR, str(error), **context)
        payment_id = new_payment_id()
        at = now_us()
        values = {
            "payment_id": payment_id,
            "customer_id": request.customer_id,
            "contract_id": contract.id if contract else None,
            "number": contract.number if contract else request.number,
            "amount": request.amount,
            "currency": request.currency,
            "state": "pending",
            "created_at": at,
            "updated_at": at,
        }

        try:
            await self.store.write(lambda connection: q.insert_deposit(connection, values))
        except Exception:
            log.exception("could not store deposit for check_deposit")
            return self._error("check_deposit", Code.ERROR, "temporarily unable to store the deposit; retry", **context)
        body: dict[str, Any] = {"code": int(Code.OK), "payment_id": payment_id, "description": "Success"}
        if self.settings.response_option == 1:
            body["customer_id"] = request.customer_id
        return self._ok("check_deposit", body, **context)

    def _check_amount(self, request: CheckDepositRequest, account: Any) -> None:
        s = self.settings
        if request.payment_method != "kassa24":
            raise BadMessage(f"invalid field 'payment_method': expected 'kassa24', got {request.payment_method!r}")
        if request.currency != s.currency or request.currency != account.currency:
            raise BadMessage(f"invalid field 'currency': expected {account.currency!r}, got {request.currency!r}")
        if request.amount < s.min_amount:
            raise BadMessage(
                f"invalid field 'amount': {plain(request.amount)} is below the minimum {plain(s.min_amount)}"
            )
        if request.amount > s.max_amount:
            raise BadMessage(
                f"invalid field 'amount': {plain(request.amount)} is above the maximum {plain(s.max_amount)}"
            )

    def _pick_contract(self, request: CheckDepositRequest, contracts: list[Any]) -> Any:
        """The contract paid into; required with response option 2."""
        if request.entity_id is None:
            if self.settings.response_option == 2:
                raise BadMessage("missing field 'entity_id' (contract id is required with response option 2)")
            return None
        contract = next((c for c in contracts if c.id == request.entity_id), None)
        if contract is None:
            raise BadMessage(f"invalid field 'entity_id': {request.entity_id!r} is not a contract of this customer")
        if request.number is not None and request.number != contract.number:
            raise BadMessage(f"invalid field 'number': does not match contract {contract.id!r}")
        if contract.status_code != 0:
            raise BadMessage(f"contract {contract.id!r} does not accept payments (status_code {contract.status_code})")
        if contract.min_payment is not None and request.amount < contract.min_payment:
            raise BadMessage(
                f"invalid field 'amount': {plain(request.amount)} is below the contract's minimum "
                f"{plain(contract.min_payment)}"
            )
        return contract

    # --- callbacks ---------------------------------------------------------------------

    async def handle_callback(self, raw: bytes) -> Reply:
        """``POST /kassa24/callback``: 200 once stored, 400 when not believable, 503 on failure."""
        try:
            data = parse_json(raw)
        except BadMessage as error:
            return Reply(400, {"error": str(error)}, "callback")
        return await self._callback(data, raw)

    async def _callback(self, data: dict[str, Any], raw: bytes) -> Reply:
        if not signature.verify(data, self.settings.secret):
            return await self._bad_signature_callback(data, raw)
        try:
            callback = parse(Callback, data)
        except BadMessage as error:
            return Reply(400, {"error": str(error)}, "callback", signature_ok=True)
        money = callback.money
        reply = Reply(
            200,
            {"status": "ok"},
            "callback",
            signature_ok=True,
            customer_id=callback.customer_id,
            amount=money.amount if money else None,
        )
        if callback.project_id != self.settings.project_id:
            reply.http_status, reply.body = 400, {"error": self._wrong_project(callback.project_id)}
            return reply
        try:
            outcome = await self.store.write(lambda connection: _apply_callback(connection, callback, raw))
        except Exception:
            log.exception("could not store callback")
            reply.http_status, reply.body = 503, {"error": "temporarily unable to store the callback; retry"}
            return reply
        reply.body["outcome"] = outcome
        return reply

    async def _bad_signature_callback(self, data: dict[str, Any], raw: bytes) -> Reply:
        payment = data.get("payment") if isinstance(data.get("payment"), dict) else {}
        payment_id = payment.get("id") if isinstance(payment.get("id"), str) else None
        digest = hashlib.sha256(raw).hexdigest()
        at = now_us()

        def job(connection: Connection) -> None:
            q.record_callback(
                connection,
                {
                    "received_at": at,
                    "last_received_at": at,
                    "dedupe_key": f"bad-signature:{digest}",
                    "signature_ok": False,
                    "payment_id": payment_id,
                    "outcome": "rejected",
                    "raw": raw.decode("utf-8", "replace"),
                },
            )
            q.flag(connection, **rules.bad_signature(payment_id, digest).flag_args(), at=at)

        reply = Reply(400, {"error": "signature error"}, "callback", signature_ok=False)
        try:
            await self.store.write(job)
        except Exception:
            log.exception("could not store a callback with a bad signature")
            reply.http_status = 503
        return reply

    # --- answers -----------------------------------------------------------------------

    def _wrong_project(self, project_id: int) -> str:
        return f"invalid field 'project_id': {project_id} is not this merchant's project"

    def _ok(self, kind: str, body: dict[str, Any], **context: Any) -> Reply:
        return Reply(200, body, kind, code=body["code"], **context)

    def _error(self, kind: str, code: Code, message: str, **context: Any) -> Reply:
        body: dict[str, Any] = {"code": int(code), "message": message}
        if self.settings.response_option == 1:
            body["error_description"] = message
        return Reply(200, body, kind, code=int(code), **context)


def _entity(contract: Any) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "id": contract.id,
        "number": contract.number,
        "payment": contract.payment,
        "status_code": contract.status_code,
    }
    if contract.min_payment is not None:
        entity["min_payment"] = contract.min_payment
    if contract.info:
        entity["info"] = contract.info
    return entity


def _apply_callback(connection: Connection, callback: Callback, raw: bytes) -> str:
    """Store the callback and apply it to its deposit once; return the outcome.

    Idempotent by (payment.id, operation.id, operation.status): a repeat only counts a
    delivery. A deposit moves out of ``pending`` once (a conditional update decides, so two
    processes cannot both credit it); a later, different final status is kept and flagged.
    """
    payment, operation, money = callback.payment, callback.operation, callback.money
    at = now_us()
    callback_id, deliveries = q.record_callback(
        connection,
        {
            "received_at": at,
            "last_received_at": at,
            "dedupe_key": f"{payment.id}|{operation.id}|{operation.status}",
            "signature_ok": True,
            "payment_id": payment.id,
            "operation_id": operation.id,
            "status": payment.status,
            "operation_status": operation.status,
            "amount": money.amount if money else None,
            "currency": money.currency if money else None,
            "customer_id": callback.customer_id,
            "outcome": "",
            "raw": raw.decode("utf-8", "replace"),
        },
    )
    if deliveries > 1:
        return "duplicate"
    outcome, deposit_id = _settle(connection, callback, at)
    q.set_callback_outcome(connection, callback_id, outcome, deposit_id)
    return outcome


def _settle(connection: Connection, callback: Callback, at: int) -> tuple[str, str | None]:
    payment, money = callback.payment, callback.money
    deposit = q.deposit(connection, payment.id)
    if deposit is None:
        found = rules.unknown_payment(payment.id, payment.status, money.amount if money else None)
        q.flag(connection, **found.flag_args(), at=at)
        return "unknown_payment", None
    target = codes.outcome(payment.status)
    if target is None:
        return "recorded", deposit.payment_id
    if money is not None and money.currency != deposit.currency:
        q.flag(connection, **rules.money_mismatch(deposit, money.amount, money.currency, "callback").flag_args(), at=at)
        return "conflict", deposit.payment_id
    paid = None
    if target == "paid":
        paid = money.amount if money is not None else deposit.amount
    if q.settle_deposit(connection, deposit.payment_id, target, paid, at):
        if paid is not None:
            if money is not None and (mismatch := rules.money_mismatch(deposit, paid, money.currency, "callback")):
                q.flag(connection, **mismatch.flag_args(), at=at)
            if deposit.contract_id:
                q.lower_due(connection, deposit.contract_id, paid, at)
        return "applied", deposit.payment_id
    current = q.deposit(connection, deposit.payment_id)
    if current is not None and current.state == target:
        return "duplicate", deposit.payment_id
    statuses = connection.execute(
        select(q.callbacks.c.status).where(q.callbacks.c.payment_id == payment.id, q.callbacks.c.signature_ok)
    ).scalars()
    conflict = rules.conflicting_status(payment.id, current.state if current else None, statuses, deposit.amount)
    q.flag(connection, **conflict.flag_args(), at=at)
    return "conflict", deposit.payment_id
