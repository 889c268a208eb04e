"""The platform's record of operations: rows of a Dashboard CSV export, or Data API items.

Column names are not published, so a mapping (our field → their header) comes from the
configuration; amounts are decimal major units or integer minor units as the mapping says;
dates are in the report's time zone. A malformed file is refused whole, with line and reason.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from operator import itemgetter
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ..config import DEFAULT_REPORT_TYPES as DEFAULT_TYPES
from ..i18n import _
from ..money import MINOR_DIGITS, parse_decimal, whole_minor_units
from ..protocol.codes import FAILED_STATUSES, SUCCESS
from ..zones import LocalClock
from ..zones import zone as time_zone
from .report_text import ReportError, decode

REQUIRED = ("operation_id", "payment_id", "status", "amount", "currency")


@dataclass(frozen=True, slots=True)
class Operation:
    """One operation as the platform recorded it; money in minor units, times in UTC µs."""

    operation_id: str
    payment_id: str
    status: str
    amount: int
    currency: str
    type: str = ""
    method: str = ""
    project_id: int | None = None
    customer_id: str | None = None
    created_at: int | None = None
    completed_at: int | None = None

    def row(self, source: str, at: int) -> dict[str, Any]:
        return {**{name: getattr(self, name) for name in self.__slots__}, "source": source, "imported_at": at}


def parse_amount(text: Any, unit: str) -> int:
    """``"1 000,50"``/``"1000.50"`` major units or ``"100050"`` minor units → 100050."""
    if isinstance(text, bool):
        raise ValueError(_("not an amount"))
    if isinstance(text, int):
        return text if unit == "minor" else text * 100
    return _parse_text_amount(str(text), unit)


@lru_cache(maxsize=4096)
def _parse_text_amount(text: str, unit: str) -> int:
    """Amounts repeat (the same instalment, again and again): each text is parsed once."""
    try:
        value = parse_decimal(str(text))
    except ValueError:
        raise ValueError(_("not an amount: {text}").format(text=repr(text))) from None
    minor = whole_minor_units(value, 0 if unit == "minor" else MINOR_DIGITS)
    if minor is None:
        problem = _("minor units must be whole: {text}") if unit == "minor" else _("more than 2 decimal places: {text}")
        raise ValueError(problem.format(text=repr(text)))
    return minor


ISO_SECONDS = "%Y-%m-%d %H:%M:%S"


def parse_time(text: Any, fmt: str, zone: ZoneInfo, clock: LocalClock | None = None) -> int | None:
    """A local time string in the report's zone → UTC epoch microseconds (``clock``, the
    zone's :class:`LocalClock`, answers a month of them from an hourly table)."""
    if text in (None, ""):
        return None
    value = str(text).strip()
    try:
        if fmt == ISO_SECONDS and len(value) == 19 and value[10] == " " and value[4] == value[7] == "-":
            moment = datetime.fromisoformat(value)  # the usual format, ~20 times faster than strptime
        else:
            moment = datetime.strptime(value, fmt)
    except ValueError:
        raise ValueError(_("not a date like {format}: {text}").format(format=fmt, text=repr(text))) from None
    if clock is not None:
        return clock.utc(moment)
    return int(moment.replace(tzinfo=zone).timestamp()) * 1_000_000 + moment.microsecond


def _lacks_required(get: Any) -> bool:
    """A field of REQUIRED is missing or blank (spelled out: this runs for each row of a month)."""
    blank = (None, "")
    return (
        get("operation_id") in blank
        or get("payment_id") in blank
        or get("status") in blank
        or get("amount") in blank
        or get("currency") in blank
    )


def operation_from(
    values: dict[str, Any], *, unit: str, date_format: str, zone: ZoneInfo, clock: LocalClock | None = None
) -> Operation:
    """Build an :class:`Operation` from our-field-named values; ``ValueError`` says what is wrong."""
    get = values.get
    if _lacks_required(get):
        missing = [name for name in REQUIRED if get(name) in (None, "")]
        raise ValueError(_("missing {fields}").format(fields=", ".join(missing)))
    project = get("project_id")
    created, completed = get("created"), get("completed")
    created_at = parse_time(created, date_format, zone, clock)
    # Usually the same text: the same moment, read once.
    same = type(completed) is str and completed == created
    completed_at = created_at if same else parse_time(completed, date_format, zone, clock)
    return Operation(
        operation_id=str(values["operation_id"]).strip(),
        payment_id=str(values["payment_id"]).strip(),
        status=sys.intern(str(values["status"]).strip().lower()),  # a few words, 100 000 times: one copy each
        amount=parse_amount(values["amount"], unit),
        currency=sys.intern(str(values["currency"]).strip().upper()),
        type=sys.intern(str(values.get("type") or "").strip().lower()),
        method=sys.intern(str(values.get("method") or "").strip()),
        project_id=int(project) if project not in (None, "") and str(project).strip().isdigit() else None,
        customer_id=str(values["customer_id"]).strip() if values.get("customer_id") not in (None, "") else None,
        created_at=created_at,
        completed_at=completed_at,
    )


def _from_text(
    values: dict[str, str | None],
    known: dict[tuple[str, str | None], Any],
    unit: str,
    date_format: str,
    zone: ZoneInfo,
    clock: LocalClock,
) -> Operation:
    """:func:`operation_from` for a report's row, whose values are texts (or None for a
    column the row lacks): the few words of a month (statuses, types, currencies, methods,
    projects, amounts) are each made once, in ``known``, the same way."""
    get, blank = values.get, (None, "")
    if _lacks_required(get):
        return operation_from(values, unit=unit, date_format=date_format, zone=zone, clock=clock)  # says what
    words = []
    for field in ("status", "amount", "currency", "type", "method", "project_id"):  # operation_from's order
        key = (field, get(field))
        word = known.get(key, known)
        if word is known:
            word = known[key] = _word(field, key[1], unit)
        words.append(word)
    status, amount, currency, kind, method, project = words
    customer = get("customer_id")
    created, completed = get("created"), get("completed")
    created_at = parse_time(created, date_format, zone, clock)
    completed_at = created_at if completed == created else parse_time(completed, date_format, zone, clock)
    return Operation(
        str(get("operation_id")).strip(),
        str(get("payment_id")).strip(),
        status,
        amount,
        currency,
        kind,
        method,
        project,
        str(customer).strip() if customer not in blank else None,
        created_at,
        completed_at,
    )


def _word(field: str, value: str | None, unit: str) -> Any:
    """One field of :func:`operation_from`, made from its text as it makes it."""
    if field == "status":
        return sys.intern(str(value).strip().lower())
    if field == "currency":
        return sys.intern(str(value).strip().upper())
    if field == "type":
        return sys.intern(str(value or "").strip().lower())
    if field == "method":
        return sys.intern(str(value or "").strip())
    if field == "project_id":
        return int(value) if value not in (None, "") and str(value).strip().isdigit() else None
    return parse_amount(value, unit)


def words(mapping: dict[str, str] | None) -> dict[str, str]:
    """A configured word mapping as it is looked up: keys stripped and lower-cased."""
    return {k.strip().lower(): v.strip().lower() for k, v in (mapping or {}).items()}


def operation_type(word: str, types: dict[str, str]) -> str:
    """The report's type word (lower-cased) → sale, refund or reversal (empty: a sale);
    ``ValueError`` for a word the mapping does not know: taking it as anything would make
    every operation of a month a reversal, or a refund a second payment."""
    if not word:
        return "sale"
    if word in types:
        return types[word]
    raise ValueError(
        _("unknown operation type {word} (map it with report_types in the config)").format(word=repr(word))
    )


KNOWN_STATUSES = frozenset(
    {
        SUCCESS,
        *FAILED_STATUSES,
        "processing",
        "awaiting customer",
        "awaiting clarification",
        "refunded",
        "partially refunded",
        "reversed",
    }
)


def read_csv(
    path: Path,
    columns: dict[str, str],
    *,
    unit: str,
    date_format: str,
    timezone: str,
    encoding: str = "auto",
    statuses: dict[str, str] | None = None,
    types: dict[str, str] | None = None,
    projects: Collection[int] | None = None,
) -> list[Operation]:
    """Every operation of a report file, or :class:`ReportError` naming the first bad line.
    With ``projects`` (those configured), an operation whose project column names another
    project is refused with its line: an operation is never applied to a project it is not of.
    ``statuses`` maps the report's words (``Успешно``) to the platform's (``success``), and
    ``types`` its type words (``Продажа``) to sale, refund or reversal; a status or a type
    that is neither known nor mapped is refused with its line."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise ReportError(_("{path}: cannot read: {error}").format(path=path, error=error.strerror or error)) from None
    text = decode(raw, encoding, str(path))
    del raw  # a month's report is megabytes: keep one copy of it, the text
    mapping = words(statuses)
    kinds = words(DEFAULT_TYPES if types is None else types)
    header_line = text.split("\n", 1)[0]
    delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
    reader = csv.reader(_lines(text), delimiter=delimiter)
    header = [h.strip() for h in next(reader, [])]
    absent = [f"{ours} ({theirs!r})" for ours, theirs in columns.items() if ours in REQUIRED and theirs not in header]
    if absent:
        raise ReportError(
            _(
                "{path}: line 1: the header lacks the columns for {columns}; map them with report_columns in the config"
            ).format(path=path, columns=", ".join(absent))
        )
    zone = time_zone(timezone)
    where = {name: i for i, name in enumerate(header)}  # a repeated header: its last column, as before
    wanted = [(ours, where.get(theirs)) for ours, theirs in columns.items()]
    operations: list[Operation] = []
    seen: dict[str, int] = {}
    clock = LocalClock(zone)
    known: dict[tuple[Any, Any], tuple[Any, str]] = {}  # (status, type) as written → as understood
    seen_words: dict[tuple[str, str | None], Any] = {}  # see _from_text
    quick = _Quick(dict(wanted), unit, date_format, zone, clock)
    for row in reader:
        if not row:
            continue  # a blank line
        line = reader.line_num
        try:
            operation = quick.read(row)
            if operation is None:  # a row unlike those before it: read field by field
                width = len(row)
                values = {ours: row[i] if i is not None and i < width else None for ours, i in wanted}
                written = (values.get("status"), values.get("type"))
                understood = known.get(written)
                if understood is None:  # a few words, a month of times: each pair understood once
                    status = _status(written[0], mapping)
                    kind = operation_type(str(written[1] or "").strip().lower(), kinds)
                    understood = known[written] = (status, kind)
                values["status"], values["type"] = understood
                operation = _from_text(values, seen_words, unit, date_format, zone, clock)
                quick.learn(row, operation)
        except ValueError as error:
            raise ReportError(_("{path}: line {line}").format(path=path, line=line) + f": {error}") from None
        if projects is not None and operation.project_id is not None and operation.project_id not in projects:
            raise ReportError(
                _("{path}: line {line}: operation {operation} is of project {project}, which is not configured").format(
                    path=path, line=line, operation=operation.operation_id, project=operation.project_id
                )
            )
        if operation.operation_id in seen:
            raise ReportError(
                _("{path}: line {line}: operation {operation} repeats line {first}").format(
                    path=path, line=line, operation=operation.operation_id, first=seen[operation.operation_id]
                )
            )
        seen[operation.operation_id] = line
        operations.append(operation)
    return operations


_WORDS = ("status", "type", "amount", "currency", "method", "project_id")  # what repeats in a month


class _Quick:
    """A report's usual row, read without a dict of its values: the texts of its words
    (status, type, amount, currency, method, project) as a row read field by field made
    them (:meth:`learn`), so each row after costs its ids and times. A row with a column
    missing, a blank id or words not seen before is not read here (None): the field by
    field reading reads it, or names what is wrong with it."""

    def __init__(self, where: dict[str, int | None], unit: str, date_format: str, zone: ZoneInfo, clock: LocalClock):
        self.unit, self.date_format, self.zone, self.clock = unit, date_format, zone, clock
        self.learnt: dict[Any, tuple[Any, ...]] = {}
        self.iso = date_format == ISO_SECONDS
        positions = [where.get(name) for name in ("operation_id", "payment_id", *_WORDS)]
        self.usable = all(where.get(name) is not None for name in REQUIRED)
        if not self.usable:
            return
        present = [i for i in positions if i is not None]
        self.width = (
            max([*present, *(i for i in map(where.get, ("customer_id", "created", "completed")) if i is not None)]) + 1
        )
        self.ids = itemgetter(*positions[:2])
        self.words = itemgetter(*(i for i in positions[2:] if i is not None))
        self.customer, self.created, self.completed = (where.get(n) for n in ("customer_id", "created", "completed"))

    def learn(self, row: list[str], operation: Operation) -> None:
        """Remember the words of ``row`` as read field by field into ``operation``."""
        if self.usable and len(row) >= self.width:
            o = operation
            self.learnt[self.words(row)] = (o.status, o.amount, o.currency, o.type, o.method, o.project_id)

    def read(self, row: list[str]) -> Operation | None:
        if not self.usable or len(row) < self.width:
            return None
        words = self.learnt.get(self.words(row))
        operation_id, payment_id = self.ids(row)
        if words is None or not operation_id or not payment_id:
            return None
        status, amount, currency, kind, method, project = words
        customer = None if self.customer is None else row[self.customer]
        created = None if self.created is None else row[self.created]
        completed = None if self.completed is None else row[self.completed]
        created_at = self.moment(created)
        completed_at = created_at if completed == created else self.moment(completed)
        customer_id = customer.strip() if customer else None
        return Operation(operation_id.strip(), payment_id.strip(), status, amount, currency, kind, method, project,
                         customer_id, created_at, completed_at)  # fmt: skip

    def moment(self, text: str | None) -> int | None:
        """:func:`parse_time` of a time as reports write it, without its checks and steps
        (anything else, or what ``fromisoformat`` refuses, goes through it)."""
        if self.iso and text and len(text) == 19 and text[10] == " " and text[4] == text[7] == "-":
            try:
                return self.clock.utc(datetime.fromisoformat(text))
            except ValueError:
                pass
        return parse_time(text, self.date_format, self.zone, self.clock)


def _lines(text: str) -> Iterator[str]:
    """The text's lines one at a time, ends kept (a quoted field may span lines): a
    ``StringIO`` would hold a second, four-bytes-a-character copy of a month's report."""
    start, size = 0, len(text)
    while start < size:
        end = text.find("\n", start)
        end = size if end < 0 else end + 1
        yield text[start:end]
        start = end


def _status(word: Any, mapping: dict[str, str]) -> Any:
    """The report's status word as the platform's; ``ValueError`` unless known or mapped."""
    if word in (None, ""):
        return word  # operation_from says it is missing
    status = str(word).strip().lower()
    status = mapping.get(status, status)
    if status not in KNOWN_STATUSES:
        raise ValueError(
            _("unknown status {word} (map it with report_statuses in the config)").format(
                word=repr(str(word).strip().lower())
            )
        )
    return status
