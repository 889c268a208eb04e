"""Data import: accounts and contracts from JSON or CSV, all of a file or nothing.

JSON: ``{"accounts": [...], "contracts": [...]}``. CSV: one table per file, told apart by
its header (a ``number`` column means contracts). Every bad row is reported with its line.
"""

from __future__ import annotations

import csv
import getpass
import io
import json
import json.decoder
import json.scanner
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, field_validator
from sqlalchemy import Connection

from .i18n import N_, _
from .protocol.messages import IdText, MinorUnits
from .reasons import part_text
from .store import JobRefused, Store, changes, now_us
from .store import queries as q

_LINE = "\x00line"
NOT_OBJECT = N_("must be a JSON object")
NOT_ISO = N_("must be an ISO-4217 code such as KZT")


class ImportFailed(JobRefused):
    """The file was not applied; the text lists each bad row with its line."""


def _blank_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def _json_object(value: Any) -> Any:
    value = _blank_to_none(value)
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ValueError(NOT_OBJECT) from None
    if value is not None and not isinstance(value, dict):
        raise ValueError(NOT_OBJECT)
    return value


Optional = BeforeValidator(_blank_to_none)


class AccountRow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: IdText
    project_id: Annotated[MinorUnits | None, Optional] = None  # else the import's --project
    additional_customer_id: Annotated[IdText | None, Optional] = None
    currency: Annotated[str, BeforeValidator(lambda v: _blank_to_none(v) or "KZT")] = "KZT"
    name: Annotated[str, BeforeValidator(lambda v: _blank_to_none(v) or "")] = ""

    @field_validator("currency")
    @classmethod
    def _iso(cls, value: str) -> str:
        if len(value) != 3 or not value.isalpha() or not value.isupper():
            raise ValueError(NOT_ISO)
        return value


class ContractRow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: IdText
    project_id: Annotated[MinorUnits | None, Optional] = None  # else the import's --project
    customer_id: IdText
    number: IdText
    payment: Annotated[MinorUnits, BeforeValidator(lambda v: _blank_to_none(v) or 0)] = 0
    min_payment: Annotated[MinorUnits | None, Optional] = None
    status_code: Annotated[MinorUnits, BeforeValidator(lambda v: _blank_to_none(v) or 0)] = 0
    status_text: Annotated[str, BeforeValidator(lambda v: _blank_to_none(v) or "")] = ""
    info: Annotated[dict[str, Any] | None, BeforeValidator(_json_object)] = None


@dataclass
class Batch:
    """What one import applies."""

    accounts: list[dict[str, Any]] = field(default_factory=list)
    contracts: list[dict[str, Any]] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    # Where each row came from ("file: line N"), in the order of accounts and contracts.
    account_lines: list[str] = field(default_factory=list)
    contract_lines: list[str] = field(default_factory=list)

    def projects(self) -> set[int]:
        """The projects the rows name themselves (a ``project_id`` column or key)."""
        return {row["project_id"] for row in self.accounts + self.contracts if row.get("project_id") is not None}

    def duplicates(self) -> list[str]:
        """Each id given twice, naming both places: the last row would silently win."""
        problems = []
        for rows, places, key, what in (
            (self.accounts, self.account_lines, "customer_id", "account"),
            (self.contracts, self.contract_lines, "id", "contract"),
        ):
            first: dict[tuple[Any, str], str] = {}
            for row, place in zip(rows, places, strict=True):
                if (seen := first.setdefault((row.get("project_id"), row[key]), place)) is not place:
                    problems.append(
                        _("{place}: {what} {id} is already given at {seen}").format(
                            place=place, what=_(what), id=repr(row[key]), seen=seen
                        )
                    )
        return problems


def _line_of(text: str, position: int) -> int:
    return text.count("\n", 0, position) + 1


def _json_with_lines(text: str) -> Any:
    """``json.loads`` that remembers the line each object starts on (under a hidden key)."""
    decoder = json.JSONDecoder()

    # json's pure-Python scanner (py_make_scanner) calls the decoder's parse_object (by default
    # JSONObject) for each object. attr-defined: typeshed declares none of the three (CPython's
    # internals, unchanged since Python 2.7).
    def parse_object(state: tuple[str, int], *args: Any) -> tuple[dict[str, Any], int]:
        obj, end = json.decoder.JSONObject(state, *args)  # type: ignore[attr-defined]  # CPython internal, not in typeshed
        obj[_LINE] = _line_of(state[0], state[1])
        return obj, end

    decoder.parse_object = parse_object  # type: ignore[attr-defined]  # CPython internal, not in typeshed
    decoder.scan_once = json.scanner.py_make_scanner(decoder)  # type: ignore[attr-defined]  # CPython internal, not in typeshed
    return decoder.decode(text)


def _strip_lines(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_lines(v) for k, v in value.items() if k != _LINE}
    if isinstance(value, list):
        return [_strip_lines(v) for v in value]
    return value


def _rows_from_json(text: str, name: str) -> tuple[list[tuple[int, Any]], list[tuple[int, Any]]]:
    try:
        data = _json_with_lines(text)
    except ValueError as error:
        raise ImportFailed(_("{name}: not valid JSON: {error}").format(name=name, error=error)) from None
    if not isinstance(data, dict) or not set(data) - {_LINE} <= {"accounts", "contracts"}:
        expected = '{"accounts": [...], "contracts": [...]}'
        raise ImportFailed(_("{name}: expected an object {expected}").format(name=name, expected=expected))
    tables = []
    for key in ("accounts", "contracts"):
        rows = data.get(key, [])
        if not isinstance(rows, list):
            raise ImportFailed(_("{name}: '{key}' must be a list").format(name=name, key=key))
        tables.append([(row.get(_LINE, 0) if isinstance(row, dict) else 0, _strip_lines(row)) for row in rows])
    return tables[0], tables[1]


def _rows_from_csv(text: str, name: str) -> tuple[list[tuple[int, Any]], list[tuple[int, Any]]]:
    header_line = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=header_line.count)  # the header tells which separator
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    header = reader.fieldnames or []
    if "customer_id" not in header:
        raise ImportFailed(_("{name}: line 1: the header needs a customer_id column").format(name=name))
    rows = [(reader.line_num, {k: v for k, v in row.items() if k is not None}) for row in reader]
    return ([], rows) if "number" in header else (rows, [])


def read_file(path: Path) -> Batch:
    """Parse and validate ``path``; :class:`ImportFailed` lists every bad row."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise ImportFailed(_("{path}: cannot read: {error}").format(path=path, error=error)) from None
    parse = _rows_from_json if path.suffix.lower() == ".json" else _rows_from_csv
    account_rows, contract_rows = parse(text, str(path))
    batch, problems = Batch(sources=[str(path)]), []
    for rows, model, target, places in (
        (account_rows, AccountRow, batch.accounts, batch.account_lines),
        (contract_rows, ContractRow, batch.contracts, batch.contract_lines),
    ):
        for line, row in rows:
            try:
                target.append(model.model_validate(row).model_dump())
                places.append(_("{path}: line {line}").format(path=path, line=line))
            except ValidationError as error:
                where = _("{path}: line {line}").format(path=path, line=line)
                problems.append(f"{where}: {_reason(error)}")
    problems += batch.duplicates()
    if problems:
        raise ImportFailed("\n".join(problems))
    return batch


def _reason(error: ValidationError) -> str:
    first = error.errors(include_url=False)[0]
    where = ".".join(str(p) for p in first["loc"]) or "row"
    if first["type"] == "missing":
        return _("missing field '{field}'").format(field=where)
    if first["type"] == "extra_forbidden":
        return _("unknown field '{field}'").format(field=where)
    reason = part_text(first["msg"].removeprefix("Value error, "))
    return _("invalid field '{field}': {reason}").format(field=where, reason=reason)


def merge(batches: list[Batch]) -> Batch:
    merged = Batch()
    for batch in batches:
        merged.accounts += batch.accounts
        merged.contracts += batch.contracts
        merged.sources += batch.sources
        merged.account_lines += batch.account_lines
        merged.contract_lines += batch.contract_lines
    if problems := merged.duplicates():
        raise ImportFailed("\n".join(problems))
    return merged


async def apply(store: Store, batch: Batch, actor: str | None = None, project_id: int | None = None) -> tuple[int, int]:
    """Upsert the batch in one transaction: each row into the project it names, else into
    ``project_id`` (else the store's first project); contracts must belong to a known
    account of their project.

    The audit records the import as the cause: one ``import`` row per account and contract
    field it changed, old → new (the file names in ``cause``), and one per row it created,
    so a history tells an import from a payment or an operator; each changed contract's
    version goes up."""
    actor = actor or getpass.getuser()
    at = now_us()
    default = project_id if project_id is not None else store.default_project

    def of(row: dict[str, Any]) -> dict[str, Any]:
        project = row.get("project_id")
        return {**row, "project_id": project if project is not None else default, "updated_at": at}

    accounts = [of(row) for row in batch.accounts]
    contracts = [of(row) for row in batch.contracts]
    cause = ", ".join(Path(source).name for source in batch.sources)
    projects = sorted({row["project_id"] for row in accounts + contracts}) or [default]

    def job(connection: Connection) -> None:
        for project in projects:
            mine = [row for row in accounts if row["project_id"] == project]
            theirs = [row for row in contracts if row["project_id"] == project]
            _apply_project(connection, project, mine, theirs, actor, at, cause)

    await store.write(job)
    return len(accounts), len(contracts)


def _apply_project(
    connection: Connection,
    project: int,
    accounts: list[dict[str, Any]],
    contracts: list[dict[str, Any]],
    actor: str,
    at: int,
    cause: str,
) -> None:
    """One project's rows of an import (inside the import's transaction)."""
    known = {row["customer_id"] for row in accounts}
    wanted = {row["customer_id"] for row in contracts} - known
    if wanted:
        missing = wanted - changes.known_customers(connection, project, wanted)
        if missing:
            raise ImportFailed(_("contracts refer to unknown accounts: {ids}").format(ids=", ".join(sorted(missing))))
    before = changes.fields_by_key(
        connection, q.contracts, "id", CONTRACT_FIELDS, [row["id"] for row in contracts], project
    )
    holders = changes.fields_by_key(
        connection, q.accounts, "customer_id", ACCOUNT_FIELDS, [row["customer_id"] for row in accounts], project
    )
    q.upsert(connection, q.accounts, ("project_id", "customer_id"), accounts)
    q.upsert(connection, q.contracts, ("project_id", "id"), contracts, bump="version")
    counted = f"{len(accounts)} accounts, {len(contracts)} contracts"
    rows = [q.audit_row(at, actor, "import", "import", cause, "rows", None, counted, cause=cause, project=project)]
    for entity, key, fields, created, table_rows, olds in (
        ("account", "customer_id", ACCOUNT_FIELDS, "name", accounts, holders),
        ("contract", "id", CONTRACT_FIELDS, "number", contracts, before),
    ):
        for row in table_rows:
            old = olds.get(row[key])
            if old is None:
                new = row.get(created)
                rows.append(
                    q.audit_row(
                        at, actor, "import", entity, row[key], "created", None, new, cause=cause, project=project
                    )
                )
                continue
            for name in fields:  # a field the rows do not carry is left as it was
                if name in row and _text(old[name]) != _text(row[name]):
                    was, now = _text(old[name]), _text(row[name])
                    rows.append(
                        q.audit_row(at, actor, "import", entity, row[key], name, was, now, cause=cause, project=project)
                    )
    q.write_audit(connection, rows)


CONTRACT_FIELDS = ("payment", "min_payment", "status_code", "status_text", "number", "customer_id", "info")
ACCOUNT_FIELDS = ("name", "currency", "additional_customer_id")


def _text(value: Any) -> Any:
    """A value as the audit compares and keeps it (JSON objects as their text)."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True) if isinstance(value, dict) else value


def demo_file() -> Path:
    """The built-in demo data: inside the wheel, or beside the package in a checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "demo" / "demo.json", here.parent / "data" / "demo" / "demo.json"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("the demo data (data/demo/demo.json) is not installed")
