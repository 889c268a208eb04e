"""What finance needs to close a day: both sides' counts and sums by status, how much matched,
the difference in money, pending deposits by age, and a hint when the unit looks wrong.

A payment made just before midnight may be recorded by the platform just after it: each
day then holds half of one pair and shows a difference with no finding. Such pairs (paid on
our side, successful on theirs, within the platform's processing window) are *carried*:
each day says what it carries to or from which neighbour, and the difference after carried
items is what is left to explain."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from ..findings import DAY_US, MINUTE_US, Finding
from ..protocol.codes import FAILED_STATUSES, SUCCESS
from ..store.periods import PeriodDeposit, PeriodOperation
from . import rules
from .period import Period

AGE_BUCKETS = (
    ("≤ 1 min", MINUTE_US),
    ("≤ 1 h", 60 * MINUTE_US),
    ("≤ 1 day", DAY_US),
    ("≤ 36 days", 36 * DAY_US),
)
_STATE_OF = {SUCCESS: "paid", **dict.fromkeys(FAILED_STATUSES, "failed")}


@dataclass(frozen=True)
class Carried:
    """One half of a pair the other day holds: ``to`` a later (or earlier) day when our
    payment is in this day and the platform's operation in ``day``; ``from`` the reverse."""

    direction: str  # "to" or "from"
    day: str  # YYYY-MM-DD in the zone: where the other half is
    payment_id: str
    amount: int  # what this day counts of it (ours for "to", the platform's for "from")
    # A retry split by midnight: ``payment_id`` is the unpaid deposit, this the paid one
    # (the platform asked again and paid that); neither day counts money of the other's.
    paid_as: str | None = None

    def as_dict(self) -> dict[str, Any]:
        found = {"direction": self.direction, "day": self.day, "payment_id": self.payment_id, "amount": self.amount}
        return found if self.paid_as is None else {**found, "paid_as": self.paid_as}


@dataclass
class Sides:
    ours: dict[str, tuple[int, int]] = field(default_factory=dict)  # deposit state → (count, sum)
    platform: dict[str, tuple[int, int]] = field(default_factory=dict)  # operation status → (count, sum)
    reversals: tuple[int, int] = (0, 0)  # refunds and reversals in the platform's record
    matched: int = 0
    compared: int = 0
    ours_paid: int = 0
    platform_paid: int = 0
    pending_by_age: dict[str, int] = field(default_factory=dict)
    unit_hint: str | None = None
    carried: list[Carried] = field(default_factory=list)

    @property
    def match_rate(self) -> float:
        return self.matched / self.compared if self.compared else 1.0

    @property
    def difference(self) -> int:
        """Our paid money minus the platform's successful money, minor units."""
        return self.ours_paid - self.platform_paid

    @property
    def difference_after_carried(self) -> int:
        """The difference less what neighbouring days hold the other half of."""
        carried = sum(c.amount if c.direction == "to" else -c.amount for c in self.carried)
        return self.difference - carried

    def carried_by_day(self) -> list[tuple[str, str, int, int]]:
        """(direction, day, payments, sum) for each neighbour, in order: what the summary says."""
        groups: dict[tuple[str, str], tuple[int, int]] = {}
        for c in self.carried:
            if c.paid_as is not None:
                continue  # a retry: said on its own (retries_by_day)
            count, total = groups.get((c.direction, c.day), (0, 0))
            groups[(c.direction, c.day)] = (count + 1, total + c.amount)
        return [(direction, day, n, total) for (direction, day), (n, total) in sorted(groups.items())]

    def retries(self) -> list[Carried]:
        """Retries split by midnight, in order of day: what the summary says of each."""
        return sorted((c for c in self.carried if c.paid_as is not None), key=lambda c: (c.day, c.payment_id))

    def as_dict(self) -> dict[str, Any]:
        def table(values: dict[str, tuple[int, int]]) -> dict[str, Any]:
            return {k: {"count": c, "sum": s} for k, (c, s) in sorted(values.items())}

        return {
            "ours": table(self.ours),
            "platform": table(self.platform),
            "platform_reversals": {"count": self.reversals[0], "sum": self.reversals[1]},
            "matched": self.matched,
            "compared": self.compared,
            "matching_rate": round(self.match_rate, 4),
            "ours_paid": self.ours_paid,
            "platform_paid": self.platform_paid,
            "difference": self.difference,
            "pending_by_age": self.pending_by_age,
            "unit_hint": self.unit_hint,
            "carried": [c.as_dict() for c in self.carried],
            "difference_after_carried": self.difference_after_carried,
        }


@dataclass
class Summary:
    """One run over a period: what it found, what is open, both sides' totals."""

    period: Period
    findings: list[Finding]
    open_ids: list[int] = field(default_factory=list)
    reopened: int = 0
    sides: Sides | None = None
    uncovered: list[str] = field(default_factory=list)
    # The platform records this run applied to the period's project (``csv:report.csv``,
    # ``data-api``), and those it read that name only other projects (not this one's record).
    records: list[str] = field(default_factory=list)
    records_of_others: list[str] = field(default_factory=list)

    def by_kind(self) -> dict[str, tuple[int, int]]:
        """kind → (count, sum of amounts involved, minor units)."""
        result: dict[str, tuple[int, int]] = {}
        for f in self.findings:
            count, total = result.get(f.kind, (0, 0))
            result[f.kind] = (count + 1, total + (f.amount or 0))
        return result


def combine(parts: list[Sides], days: set[str]) -> Sides:
    """The sides of several days as one period's: counts and sums added; only what is
    carried to or from a day outside the period stays carried (a pair inside it is whole)."""
    if len(parts) == 1:
        return parts[0]
    result = Sides()
    for part in parts:
        for table, values in ((result.ours, part.ours), (result.platform, part.platform)):
            for key, (count, total) in values.items():
                have = table.get(key, (0, 0))
                table[key] = (have[0] + count, have[1] + total)
        result.reversals = (result.reversals[0] + part.reversals[0], result.reversals[1] + part.reversals[1])
        result.matched += part.matched
        result.compared += part.compared
        result.ours_paid += part.ours_paid
        result.platform_paid += part.platform_paid
        for label, count in part.pending_by_age.items():
            result.pending_by_age[label] = result.pending_by_age.get(label, 0) + count
        result.unit_hint = result.unit_hint or part.unit_hint
        result.carried += [c for c in part.carried if c.day not in days]
    result.compared -= sum(
        1 for part in parts for c in part.carried if c.direction == "from" and c.day in days and c.paid_as is None
    )
    return result


def sides(records: rules.Records, findings: list[Finding], now: int, zone: ZoneInfo) -> Sides:
    result = Sides()
    start, end = records.start, records.end
    deposits = [d for d in records.deposits if start <= d.created_at < end]
    operations = [op for op in records.operations if op.created_at is None or start <= op.created_at < end]
    ours = result.ours
    for d in deposits:
        amount = (d.paid_amount or d.amount) if d.state == "paid" else d.amount
        count, total = ours.get(d.state, (0, 0))
        ours[d.state] = (count + 1, total + amount)
        if d.state == "paid":
            result.ours_paid += amount
        elif d.state == "pending":
            age = now - d.created_at
            label = next((name for name, limit in AGE_BUCKETS if age <= limit), "expired")
            result.pending_by_age[label] = result.pending_by_age.get(label, 0) + 1
    sales: dict[str | None, list[PeriodOperation]] = {}
    platform, sale_types = result.platform, rules.SALE_TYPES
    for op in operations:
        amount = op.amount or 0
        if op.type not in sale_types:
            result.reversals = (result.reversals[0] + 1, result.reversals[1] + amount)
            continue
        count, total = platform.get(op.status, (0, 0))
        platform[op.status] = (count + 1, total + amount)
        if op.status == SUCCESS:
            result.platform_paid += amount
        if op.payment_id in sales:
            sales[op.payment_id].append(op)
        else:
            sales[op.payment_id] = [op]
    flagged = {f.payment_id for f in findings}
    compared = {d.payment_id for d in deposits} | set(sales)
    result.compared = len(compared)
    result.matched = 0
    for d in deposits:
        recorded = sales.get(d.payment_id)
        if recorded is not None and d.payment_id not in flagged and _agrees(d, recorded):
            result.matched += 1
    result.unit_hint = _unit_hint(deposits, sales)
    window = records.limits.callback_expiry_days * DAY_US
    result.carried = list(_carried(records, deposits, operations, window, zone))
    return result


def _carried(
    records: rules.Records,
    deposits: list[PeriodDeposit],
    operations: list[PeriodOperation],
    window: int,
    zone: ZoneInfo,
) -> list[Carried]:
    """Pairs split by the period's edge: our paid deposits of the period whose successful
    sale lies outside it, and successful sales of the period whose paid deposit lies outside."""
    start, end = records.start, records.end

    def outside(at: int | None) -> bool:
        return at is not None and not start <= at < end

    def day(at: int) -> str:
        return rules.local_day(at, zone)

    successes: dict[str | None, PeriodOperation] = {}
    for op in records.operations:
        if op.type in rules.SALE_TYPES and op.status == SUCCESS:
            successes.setdefault(op.payment_id, op)
    found = []
    for d in deposits:
        sale = successes.get(d.payment_id) if d.state == "paid" else None
        if sale is None or sale.created_at is None:
            continue
        if outside(sale.created_at) and abs(sale.created_at - d.created_at) <= window:
            found.append(Carried("to", day(sale.created_at), d.payment_id, d.paid_amount or d.amount))
    paid_elsewhere = {d.payment_id: d for d in records.deposits if d.state == "paid" and outside(d.created_at)}
    for theirs in operations:
        pid = theirs.payment_id
        ours = paid_elsewhere.get(pid) if pid is not None else None
        counted = successes.get(pid)  # the sale that counts for the payment
        if pid is None or ours is None or theirs.created_at is None or counted is not theirs:
            continue
        if abs(theirs.created_at - ours.created_at) <= window:
            found.append(Carried("from", day(ours.created_at), pid, theirs.amount or 0))
    for unpaid, paid in rules.retry_pairs([*deposits, *records.neighbours], records.limits):
        if outside(unpaid.created_at) != outside(paid.created_at):  # a pair split by the period's edge
            here = not outside(unpaid.created_at)
            direction, other = ("to", paid) if here else ("from", unpaid)
            found.append(Carried(direction, day(other.created_at), unpaid.payment_id, 0, paid.payment_id))
    return found


def _agrees(deposit: PeriodDeposit, operations: list[PeriodOperation]) -> bool:
    op = operations[0] if len(operations) == 1 else next((o for o in operations if o.status == SUCCESS), operations[-1])
    return _STATE_OF.get(op.status, "pending") == deposit.state and op.amount == deposit.amount


def _unit_hint(deposits: list[PeriodDeposit], sales: dict[str | None, list[PeriodOperation]]) -> str | None:
    """Most amounts off by exactly ×100 means the report's unit setting is wrong."""
    ratios: Counter[str] = Counter()
    pairs = 0
    for d in deposits:
        recorded = sales.get(d.payment_id)
        if recorded is None:
            continue
        pairs += 1
        ours, theirs = d.amount, recorded[0].amount
        if ours == theirs:
            continue  # the usual pair: neither ratio
        if theirs and ours == theirs * 100:
            ratios["report ÷100"] += 1
        elif ours and theirs == ours * 100:
            ratios["report ×100"] += 1
    if pairs >= 3:
        ratio, count = max(ratios.items(), key=lambda item: item[1], default=("", 0))
        if count * 5 >= pairs * 4:
            wrong = "major" if ratio == "report ÷100" else "minor"
            return (
                f"{count} of {pairs} amounts differ by exactly ×100: the report's amounts are probably not "
                f"in {wrong} units (check report_amount_unit / data_api_amount_unit)"
            )
    return None
