"""The statements of reconciliation beyond a period's rows (:mod:`.periods`): which days the
platform's record covers, customers' monthly totals, the findings kept and closed, the
periods signed, and the counts by day the act and the plausibility check read.

Every statement is one project's (``project``); rows that name no project are the first
project's (``default``), as in :mod:`.periods`. Rows come back typed."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from sqlalchemy import Connection, and_, func, or_, select, update

from . import queries as q
from .periods import of_project
from .rows import MismatchRow


class OpenFinding(NamedTuple):
    id: int
    payment_id: str | None
    key: str


class FindingBrief(NamedTuple):
    id: int
    kind: str
    payment_id: str | None


class SignedPeriodRow(NamedTuple):
    """A signed period: who signed it when, and whether something reopened it since."""

    id: int
    project_id: int
    start_at: int
    end_at: int
    signed_by: str
    signed_at: int
    reopened_at: int | None
    reopened_reason: str | None


class DayTurnover(NamedTuple):
    """One local day: our paid deposits and the platform's successful sales, count and sum."""

    ours_count: int
    ours_sum: int
    platform_count: int
    platform_sum: int


def _mismatch_columns() -> list[Any]:
    return [q.mismatches.c[name] for name in MismatchRow._fields]


def record_coverage(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """That a source is the platform's record of a project's day (replacing its count and time)."""
    if not rows:
        return
    statement = q._insert(connection, q.coverage)
    excluded = statement.excluded
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=["project_id", "day", "source"],
            set_={"operations": excluded.operations, "applied_at": excluded.applied_at},
        ),
        list(rows),
    )


def covered_days(connection: Connection, project: int, days: list[str]) -> set[str]:
    """Those of ``days`` the project's platform record was applied for."""
    c = q.coverage
    return set(connection.execute(select(c.c.day).where(c.c.project_id == project, c.c.day.in_(days))).scalars())


def paid_totals_over(
    connection: Connection, months: Iterable[tuple[str, int, int]], limit: int, project: int
) -> dict[tuple[str, str], int]:
    """(customer, month label) → the customer's paid total of each month ``(label, start,
    end)``, summed by the database; only the totals over ``limit``."""
    d = q.deposits
    paid = func.sum(func.coalesce(func.nullif(d.c.paid_amount, 0), d.c.amount))
    totals: dict[tuple[str, str], int] = {}
    for label, start, end in months:
        rows = connection.execute(
            select(d.c.customer_id, paid)
            .where(
                (d.c.project_id + 0) == project,  # by the time index, not the project's
                d.c.state == "paid",
                d.c.created_at >= start,
                d.c.created_at < end,
            )
            .group_by(d.c.customer_id)
            .having(paid > limit)
        )
        totals.update({(customer, label): int(total) for customer, total in rows})
    return totals


def mismatches_by_key(connection: Connection, keys: list[str]) -> dict[str, MismatchRow]:
    """The kept findings with these keys."""
    if not keys:
        return {}
    m = q.mismatches
    rows = connection.execute(select(*_mismatch_columns()).where(m.c.key.in_(keys)))
    return {row.key: MismatchRow(*row) for row in rows}


def mismatches_by_id(connection: Connection, ids: list[int]) -> list[MismatchRow]:
    """The kept findings with these ids, in id order."""
    if not ids:
        return []
    m = q.mismatches
    rows = connection.execute(select(*_mismatch_columns()).where(m.c.id.in_(ids)).order_by(m.c.id))
    return [MismatchRow(*row) for row in rows]


def briefs(connection: Connection, ids: list[int]) -> list[FindingBrief]:
    """Id, kind and payment of these findings (what a refusal lists)."""
    m = q.mismatches
    rows = connection.execute(select(m.c.id, m.c.kind, m.c.payment_id).where(m.c.id.in_(ids)).order_by(m.c.id))
    return [FindingBrief(*row) for row in rows]


def update_mismatch(connection: Connection, mismatch_id: int, values: dict[str, Any]) -> None:
    connection.execute(update(q.mismatches).where(q.mismatches.c.id == mismatch_id).values(**values))


def open_rule_findings(connection: Connection, kinds: Iterable[str], project: int, default: int) -> list[OpenFinding]:
    """The project's open findings of these kinds (those reconciliation may close again)."""
    m = q.mismatches
    query = select(m.c.id, m.c.payment_id, m.c.key).where(m.c.state == "open", m.c.kind.in_(list(kinds)), of_project(m))
    return [OpenFinding(*row) for row in connection.execute(query, {"project": project, "default": default})]


def resolve_mismatches(
    connection: Connection, ids: list[int], by: str, at: int, note: str, project: int | None = None
) -> None:
    """Mark these findings (of ``project``) resolved by ``by`` with ``note``, each change
    audited as the project's."""
    if not ids:
        return
    m = q.mismatches
    connection.execute(
        update(m).where(m.c.id.in_(ids)).values(state="resolved", resolved_by=by, resolved_at=at, note=note)
    )
    q.write_audit(
        connection,
        [
            q.audit_row(at, by, "resolve", "mismatch", str(i), "state", "open", "resolved", note=note, project=project)
            for i in ids
        ],
    )


def touching(
    connection: Connection, start: int, end: int, project: int, default: int, *, open_only: bool = True
) -> list[int]:
    """Ids of the project's findings that touch ``[start, end)``: their fact happened in it
    (or, for findings from before facts were dated, they were found in it), or they are
    about its deposits. Forged callbacks are not money of the period and never count."""
    m, d = q.mismatches, q.deposits
    its_deposits = select(d.c.payment_id).where(
        (d.c.project_id + 0) == project, d.c.created_at >= start, d.c.created_at < end
    )
    touches = or_(
        and_(m.c.occurred_at >= start, m.c.occurred_at < end),
        and_(m.c.occurred_at.is_(None), m.c.found_at >= start, m.c.found_at < end),
        m.c.payment_id.in_(its_deposits),
    )
    conditions = [m.c.kind.not_in(q.UNSIGNED_KINDS), of_project(m), touches]
    conditions += [m.c.state == "open"] if open_only else []
    query = select(m.c.id).where(*conditions).order_by(m.c.id)
    return [row.id for row in connection.execute(query, {"project": project, "default": default})]


def sign_period(connection: Connection, project: int, start: int, end: int, who: str, at: int) -> None:
    """Record the project's ``[start, end)`` signed by ``who`` (signing again clears a reopening)."""
    statement = q._insert(connection, q.periods).values(
        project_id=project, start_at=start, end_at=end, signed_by=who, signed_at=at
    )
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=["project_id", "start_at", "end_at"],
            set_={"signed_by": who, "signed_at": at, "reopened_at": None, "reopened_reason": None},
        )
    )


def signed_periods(connection: Connection, start: int, end: int, project: int | None = None) -> list[SignedPeriodRow]:
    """Signed periods overlapping [start, end), newest first (only ``project``'s when given)."""
    p = q.periods
    conditions = [p.c.start_at < end, p.c.end_at > start, *([p.c.project_id == project] if project is not None else [])]
    columns = [p.c[name] for name in SignedPeriodRow._fields]
    rows = connection.execute(select(*columns).where(*conditions).order_by(p.c.signed_at.desc()))
    return [SignedPeriodRow(*row) for row in rows]


def paid_count(connection: Connection, start: int, end: int, project: int) -> int:
    """How many of the project's deposits made in ``[start, end)`` are paid."""
    d = q.deposits
    # ``state || ''``: walk the span by the time index; SQLite would otherwise take the
    # state index and read every paid deposit ever.
    query = select(func.count()).where(
        (d.c.project_id + 0) == project, (d.c.state + "") == "paid", d.c.created_at >= start, d.c.created_at < end
    )
    return int(connection.execute(query).scalar_one())


def day_turnover(
    connection: Connection, start: int, end: int, project: int, default: int, sale_types: Iterable[str], success: str
) -> DayTurnover:
    """Our paid deposits and the platform's successful sales made in ``[start, end)``."""
    d, o = q.deposits, q.operations
    paid_sum = func.coalesce(func.sum(func.coalesce(d.c.paid_amount, d.c.amount)), 0)
    ours = connection.execute(
        select(func.count(), paid_sum).where(
            (d.c.project_id + 0) == project, d.c.state == "paid", d.c.created_at >= start, d.c.created_at < end
        )
    ).one()
    theirs = connection.execute(
        select(func.count(), func.coalesce(func.sum(o.c.amount), 0)).where(
            func.coalesce(o.c.project_id, default) == project,
            o.c.status == success,
            o.c.type.in_(list(sale_types)),
            o.c.created_at >= start,
            o.c.created_at < end,
        )
    ).one()
    return DayTurnover(int(ours[0]), int(ours[1]), int(theirs[0]), int(theirs[1]))


class OperationEvidence(NamedTuple):
    """What a correction checks of the platform's operation it is made on."""

    operation_id: str
    payment_id: str
    project_id: int | None
    status: str
    amount: int | None
    currency: str


def operation_evidence(connection: Connection, operation_id: str) -> OperationEvidence | None:
    o = q.operations
    columns = [o.c[name] for name in OperationEvidence._fields]
    row = connection.execute(select(*columns).where(o.c.operation_id == operation_id)).first()
    return None if row is None else OperationEvidence(*row)


def close_pending(connection: Connection, payment_id: str, at: int) -> bool:
    """``pending`` → ``closed``, only if the deposit is still pending (a callback landing first wins)."""
    d = q.deposits
    result = connection.execute(
        update(d).where(d.c.payment_id == payment_id, d.c.state == "pending").values(state="closed", updated_at=at)
    )
    return result.rowcount == 1
