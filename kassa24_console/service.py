"""The protocol's rules: verify, check_deposit and callbacks → an answer and stored facts.

Each handler takes the raw request body and returns a :class:`Reply`: the HTTP status and
JSON to send, plus what the traffic record should say. Business outcomes are never
exceptions; only a failing database is, and it becomes a 500 (protocol) or 503 (callback,
so the platform retries) without anything half-written.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from . import callbacks
from .config import Settings
from .i18n import gettext_in
from .ids import new_payment_id
from .keyring import Keyring, Match
from .money import plain
from .projects import Project
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
from .store import Store, now_us
from .store import queries as q
from .store.rows import AccountRow, ContractRow
from .store.text import abridged, may_need_escaping, storable_tree

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
    reason: str | None = None  # why a non-zero code or an HTTP error, for the traffic record
    sig_form: str | None = None  # the signature form that matched
    payment_id: str | None = None  # the payment the exchange is about (the id we minted, a callback's)
    project_id: int | None = None  # the project of ours the request was routed to
    key_used: str | None = None  # current | previous: which of its keys signed it
    ours: bool = False  # failed on our side (the database): never counted against the peer


KEY_TRUSTED_FOR = 600.0  # seconds a verified request vouches for the key, in diagnoses
CLOCK_TOLERANCE_US = 86_400_000_000  # a deposit dated further past the last one: warned
CLOCK_BACK_US = 300_000_000  # a deposit dated further before the last one: warned
CLOCK_WARN_EVERY = 3600.0


class Service:
    """The merchant side of the configured projects: each request routed by its body's
    ``project_id`` and checked with that project's keys."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.keys = Keyring(settings.projects)
        self._verified_at = float("-inf")
        self._last_deposit_at: int | None = None
        self._clock_warned = float("-inf")
        # The catalog's answers in the payer's language, looked up once: the language and the
        # catalogs are fixed for the process. Only these: a diagnosis may quote the request.
        language = settings.customer_language
        self._customer_texts = {message: gettext_in(language, message) for message in codes.MESSAGES.values()}

    # --- parsing and signatures, shared by both URLs ----------------------------------

    def _signature(self, data: dict[str, Any]) -> Match:
        result = self.keys.check(data)
        if result.ok:
            self._verified_at = time.monotonic()
        return result

    def _why_not(self, data: dict[str, Any], result: Match) -> str:
        recent = time.monotonic() - self._verified_at < KEY_TRUSTED_FOR
        return signature.diagnose(data, result.check, key_works_elsewhere=recent)

    def vouched(self, raw: bytes) -> bool:
        """Whether ``raw`` is a message whose signature verifies (a throttled peer's request
        is still answered when it is)."""
        try:
            data = parse_json(raw)
        except BadMessage:
            return False
        return self._signature(data).ok

    # --- the merchant URL: verify and check_deposit ------------------------------------

    async def handle_merchant(self, raw: bytes, peer: str = "") -> Reply:
        """``POST /kassa24``: verify or check_deposit by ``type``; callbacks are passed on."""
        try:
            data = parse_json(raw)
        except BadMessage as error:
            return self._error("unknown", Code.ERROR, str(error))
        if looks_like_callback(data):
            return await self._callback(data, raw, peer)
        clean = storable_tree(data) if may_need_escaping(raw) else data
        kind: str = clean["type"] if clean.get("type") in ("verify", "check_deposit") else "unknown"
        customer = clean.get("customer_id")
        customer_id = customer if isinstance(customer, str) else None
        result = self._signature(data)
        option = result.project.response_option if result.project is not None else None
        if not result.ok:
            reply = self._error(
                kind, Code.SIGNATURE, codes.MESSAGES[Code.SIGNATURE], option=option, customer_id=customer_id
            )
            reply.signature_ok, reply.reason = False, self._why_not(data, result)
            return reply
        reply = await self._signed(kind, clean, customer_id, result.project)
        reply.signature_ok, reply.sig_form, reply.key_used = True, result.check.form, result.key_used
        reply.project_id = result.project.project_id if result.project is not None else None
        return reply

    async def _signed(self, kind: str, data: dict[str, Any], customer_id: str | None, project: Project | None) -> Reply:
        """A request whose signature verified: parse it and apply the project's rules (one
        not ours, signed by a key of ours, is answered as a wrong project)."""
        option = project.response_option if project is not None else None
        try:
            if kind == "verify":
                request: Any = parse(VerifyRequest, data)
            elif kind == "check_deposit":
                request = parse(CheckDepositRequest, data)
            else:
                expected = "expected 'verify' or 'check_deposit'"
                return self._error(kind, Code.ERROR, f"unknown type {data.get('type')!r}: {expected}", option=option)
        except BadMessage as error:
            return self._error(kind, Code.ERROR, str(error), option=option, customer_id=customer_id)
        if project is None or request.project_id != project.project_id:
            context: dict[str, Any] = {"customer_id": request.customer_id}
            if kind == "check_deposit":
                context |= {"contract_id": request.entity_id, "amount": request.amount}
            return self._error(kind, Code.ERROR, self._wrong_project(request.project_id), **context)
        if kind == "verify":
            return await self._verify(request, project)
        return await self._check_deposit(request, project)

    async def _verify(self, request: VerifyRequest, project: Project) -> Reply:
        context: dict[str, Any] = {"customer_id": request.customer_id, "option": project.response_option}
        account, contracts = await self.store.account(project.project_id, request.customer_id)
        if account is None:
            return self._error("verify", Code.NOT_FOUND, codes.MESSAGES[Code.NOT_FOUND], **context)
        context.pop("option")
        if project.response_option == 1:
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
            body["message"] = self._for_customer(codes.MESSAGES[code])
            context["reason"] = codes.MESSAGES[code]
        return self._ok("verify", body, **context)

    async def _check_deposit(self, request: CheckDepositRequest, project: Project) -> Reply:
        context: dict[str, Any] = {
            "customer_id": request.customer_id,
            "contract_id": request.entity_id,
            "amount": request.amount,
            "option": project.response_option,
        }
        account, contracts = await self.store.account(project.project_id, request.customer_id)
        if account is None:
            return self._error("check_deposit", Code.NOT_FOUND, codes.MESSAGES[Code.NOT_FOUND], **context)
        contract = None
        try:
            self._check_amount(request, account, project)
            contract = self._pick_contract(request, contracts, project)
        except BadMessage as error:
            return self._error("check_deposit", Code.ERROR, str(error), **context)
        context.pop("option")
        payment_id = new_payment_id()
        at = now_us()
        await self._check_clock(at)
        values = {
            "payment_id": payment_id,
            "project_id": project.project_id,
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
            await self.store.insert_deposit(values)
        except Exception:
            log.exception("could not store deposit for check_deposit")
            reply = self._error(
                "check_deposit", Code.ERROR, codes.STORE_FAILED, option=project.response_option, **context
            )
            reply.ours = True
            return reply
        body: dict[str, Any] = {"code": int(Code.OK), "payment_id": payment_id}
        body["description"] = self._for_customer(codes.MESSAGES[Code.OK])
        if project.response_option == 1:
            body["customer_id"] = request.customer_id
        return self._ok("check_deposit", body, payment_id=payment_id, **context)

    def _check_amount(self, request: CheckDepositRequest, account: AccountRow, project: Project) -> None:
        s = project
        assert s.min_amount is not None and s.max_amount is not None  # completed from the top level
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

    def _pick_contract(
        self, request: CheckDepositRequest, contracts: list[ContractRow], project: Project
    ) -> ContractRow | None:
        """The contract paid into; required with response option 2."""
        if request.entity_id is None:
            if project.response_option == 2:
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

    async def handle_callback(self, raw: bytes, peer: str = "") -> Reply:
        """``POST /kassa24/callback``: 200 once stored, 400 when not believable, 503 on failure."""
        try:
            data = parse_json(raw)
        except BadMessage as error:
            return Reply(400, {"error": str(error)}, "callback", reason=str(error))
        return await self._callback(data, raw, peer)

    async def _callback(self, data: dict[str, Any], raw: bytes, peer: str) -> Reply:
        clean = storable_tree(data) if may_need_escaping(raw) else data
        result = self._signature(data)
        if not result.ok:
            return await self._forged_callback(clean, raw, peer, self._why_not(data, result))
        project = result.project
        try:
            callback = parse(Callback, clean)
        except BadMessage as error:
            return Reply(400, {"error": str(error)}, "callback", signature_ok=True, reason=str(error))
        money = callback.money
        reply = Reply(
            200,
            {"status": "ok"},
            "callback",
            signature_ok=True,
            customer_id=callback.customer_id,
            amount=money.amount if money else None,
            sig_form=result.check.form,
            key_used=result.key_used,
            project_id=project.project_id if project is not None else None,
            payment_id=callback.payment.id,
        )
        if project is None or callback.project_id != project.project_id:
            reply.reason = self._wrong_project(callback.project_id)
            reply.http_status, reply.body = 400, {"error": reply.reason}
            return reply
        text = raw.decode("utf-8", "replace")
        try:
            outcome = await self.store.write_hot(lambda tx: callbacks.apply_hot(tx, callback, text))
            if outcome is None:
                outcome = await self.store.write(lambda c: callbacks.apply(c, callback, text), inline=True)
        except Exception:
            log.exception("could not store callback")
            reply.reason = "temporarily unable to store the callback; retry"
            reply.http_status, reply.body = 503, {"error": reply.reason}
            return reply
        reply.body["outcome"] = outcome
        if outcome not in ("applied", "duplicate", "recorded"):
            reply.reason = outcome
        return reply

    async def _forged_callback(self, data: dict[str, Any], raw: bytes, peer: str, why: str) -> Reply:
        payment: dict[str, Any] = data["payment"] if isinstance(data.get("payment"), dict) else {}
        payment_id = payment.get("id") if isinstance(payment.get("id"), str) else None
        digest, kept, at = hashlib.sha256(raw).hexdigest(), abridged(raw), now_us()
        reply = Reply(400, {"error": "signature error"}, "callback", signature_ok=False, reason=why)
        try:
            await self.store.write(
                lambda connection: callbacks.record_forged(
                    connection, peer=peer or "unknown", payment_id=payment_id, digest=digest, kept=kept, at=at
                )
            )
        except Exception:
            log.exception("could not store a callback with a bad signature")
            reply.http_status = 503
        return reply

    async def _check_clock(self, at: int) -> None:
        """A deposit is dated by this machine's clock: one far past the last deposit stored
        (a clock jumped forward dates payments in the future) or before it (jumped back) is
        logged, at most once an hour; the deposit is still taken (the platform is waiting)."""
        if self._last_deposit_at is None:
            self._last_deposit_at = await self.store.read(q.newest, q.deposits.c.created_at) or at
        last, self._last_deposit_at = self._last_deposit_at, max(self._last_deposit_at, at)
        ahead = at - last
        if (ahead > CLOCK_TOLERANCE_US or ahead < -CLOCK_BACK_US) and time.monotonic() > self._clock_warned:
            self._clock_warned = time.monotonic() + CLOCK_WARN_EVERY
            hours = abs(ahead) / 3_600_000_000
            if ahead > 0:
                log.warning("this deposit is dated %.1f hours after the last deposit stored: check the clock", hours)
            else:
                log.warning("this deposit is dated %.1f hours before the last deposit stored: check the clock", hours)

    # --- answers -----------------------------------------------------------------------

    def _wrong_project(self, project_id: int) -> str:
        return f"invalid field 'project_id': {project_id} is not this merchant's project"

    def _ok(self, kind: str, body: dict[str, Any], **context: Any) -> Reply:
        return Reply(200, body, kind, code=body["code"], **context)

    def _for_customer(self, message: str) -> str:
        """``message`` in the payer's language (the catalog's; codes never change with it)."""
        text = self._customer_texts.get(message)
        return text if text is not None else gettext_in(self.settings.customer_language, message)

    def _error(self, kind: str, code: Code, message: str, option: int | None = None, **context: Any) -> Reply:
        """An error answer: a message from the catalog goes out in the payer's language, a
        diagnosis naming a field (for the integrator) as it is; the record keeps the English.
        ``option``: the project's response option (unknown project: the top-level one)."""
        text = self._for_customer(message)
        body: dict[str, Any] = {"code": int(code), "message": text}
        if (option or self.settings.response_option) == 1:
            body["error_description"] = text
        return Reply(200, body, kind, code=int(code), reason=message, **context)


def _entity(contract: ContractRow) -> dict[str, Any]:
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
