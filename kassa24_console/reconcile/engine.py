"""Run the rules over a period of the store, keep the findings, sign periods off."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, and_, func, or_, select, update

from ..config import Settings
from ..edits import operator
from ..store import Store, now_us
from ..store import queries as q
from . import rules
from .report import Operation


class SignOffRefused(Exception):
    """The period still has open mismatches."""


@dataclass(frozen=True)
class Period:
    """[start, end) in UTC µs, from whole local days in the configured zone."""

    start: int
    end: int
    label: str

    @classmethod
    def of_days(cls, first: date, last: date, zone: ZoneInfo) -> Period:
        start = datetime.combine(first, time.min, zone)
        end = datetime.combine(last + timedelta(days=1), time.min, zone)
        return cls(int(start.timestamp() * 1e6), int(end.timestamp() * 1e6), f"{first} … {last}")


@dataclass
class Summary:
    period: Period
    findings: list[rules.Finding]
    open_ids: list[int] = field(default_factory=list)
    reopened: int = 0
    closed: int = 0

    def by_kind(self) -> dict[str, tuple[int, int]]:
        """kind → (count, sum of amounts involved, minor units)."""
        result: dict[str, tuple[int, int]] = {}
        for f in self.findings:
            count, total = result.get(f.kind, (0, 0))
            result[f.kind] = (count + 1, total + (f.amount or 0))
        return result


async def store_operations(store: Store, operations: list[Operation], source: str) -> int:
    """Upsert the platform's operations by operation id: re-importing adds nothing."""
    at = now_us()
    rows = [op.row(source, at) for op in operations]

    def job(connection: Connection) -> None:
        q.upsert(connection, q.operations, "operation_id", rows)

    await store.write(job)
    return len(rows)


def _load(connection: Connection, period: Period, month_start: int, expiry_us: int) -> dict[str, Any]:
    d, c, o = q.deposits, q.callbacks, q.operations
    deposits = connection.execute(
        select(d).where(d.c.created_at >= min(month_start, period.start - expiry_us), d.c.created_at < period.end)
    ).all()
    in_period_ids = [x.payment_id for x in deposits if period.start <= x.created_at < period.end]
    operations = connection.execute(
        select(o).where(
            or_(and_(o.c.created_at >= period.start, o.c.created_at < period.end), o.c.payment_id.in_(in_period_ids))
        )
    ).all()
    callbacks = connection.execute(
        select(c).where(
            or_(and_(c.c.received_at >= period.start, c.c.received_at < period.end), c.c.payment_id.in_(in_period_ids))
        )
    ).all()
    referenced = {x.payment_id for x in callbacks if x.payment_id} | {x.payment_id for x in operations}
    known = {x.payment_id for x in deposits}
    missing = list(referenced - known)
    if missing:  # deposits made before the loaded window that later records refer to
        deposits += connection.execute(select(d).where(d.c.payment_id.in_(missing))).all()
    covered = (
        connection.execute(
            select(func.count()).select_from(o).where(o.c.created_at >= period.start, o.c.created_at < period.end)
        ).scalar_one()
        > 0
    )
    return {
        "deposits": deposits,
        "callbacks": callbacks,
        "operations": operations,
        "covered": covered,
        "in_period_ids": in_period_ids,
    }


async def reconcile(
    store: Store,
    settings: Settings,
    period: Period,
    *,
    now: int | None = None,
    report_covers_period: bool | None = None,
) -> Summary:
    """Compare the three records for ``period`` and keep what disagrees as mismatches."""
    zone = ZoneInfo(settings.timezone)
    first_day = datetime.fromtimestamp(period.start / 1e6, zone)
    month_start = int(first_day.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp() * 1e6)
    expiry = settings.callback_expiry_days * rules.DAY_US
    loaded = await store.scan(_load, period, month_start, expiry)
    records = rules.Records(
        deposits=loaded["deposits"],
        callbacks=loaded["callbacks"],
        operations=loaded["operations"],
        start=period.start,
        end=period.end,
        now=now if now is not None else now_us(),
        report_covers_period=loaded["covered"] if report_covers_period is None else report_covers_period,
        settings={
            "monthly_limit": settings.monthly_limit,
            "retry_window_seconds": settings.retry_window_seconds,
            "callback_warning_seconds": settings.callback_warning_seconds,
            "callback_expiry_days": settings.callback_expiry_days,
        },
    )
    findings = rules.find(records, zone)
    scope = set(loaded["in_period_ids"]) | {op.payment_id for op in loaded["operations"]}
    summary = Summary(period, findings)
    summary.open_ids, summary.reopened, summary.closed = await store.write(
        lambda connection: _keep(connection, findings, scope, period)
    )
    return summary


def _keep(
    connection: Connection, findings: list[rules.Finding], scope: set[str], period: Period
) -> tuple[list[int], int, int]:
    """Insert new findings, refresh known ones (reopening when the evidence changed), and
    close rule-found mismatches in scope that the records no longer show."""
    m = q.mismatches
    at = now_us()
    reopened = 0
    keys = [f.key for f in findings]
    existing = {row.key: row for row in connection.execute(select(m).where(m.c.key.in_(keys)))} if keys else {}
    for f in findings:
        row = existing.get(f.key)
        if row is None:
            q.flag(connection, **f.flag_args(), at=at)
        elif row.evidence != f.evidence:
            values: dict[str, Any] = {"evidence": f.evidence}
            if row.state == "resolved":
                values.update(
                    state="open",
                    note=(row.note + " · reopened: the evidence changed").strip(" ·"),
                    resolved_by=None,
                    resolved_at=None,
                )
                reopened += 1
                note = "the evidence changed"
                q.write_audit(
                    connection,
                    [
                        q.audit_row(
                            at, "reconcile", "reopen", "mismatch", str(row.id), "state", "resolved", "open", note=note
                        )
                    ],
                )
            connection.execute(update(m).where(m.c.id == row.id).values(**values))
    stale = select(m.c.id).where(
        m.c.state == "open", m.c.kind.in_(rules.RULE_KINDS), m.c.payment_id.in_(scope), m.c.key.not_in(keys)
    )
    stale_ids = [row.id for row in connection.execute(stale)] if scope else []
    if stale_ids:
        note = "no longer found by reconciliation"
        connection.execute(
            update(m)
            .where(m.c.id.in_(stale_ids))
            .values(state="resolved", resolved_by="reconcile", resolved_at=at, note=note)
        )
        q.write_audit(
            connection,
            [
                q.audit_row(at, "reconcile", "resolve", "mismatch", str(i), "state", "open", "resolved", note=note)
                for i in stale_ids
            ],
        )
    open_ids = _open_in_period(connection, keys, scope, period)
    return open_ids, reopened, len(stale_ids)


def _open_in_period(connection: Connection, keys: list[str], scope: set[str], period: Period) -> list[int]:
    m = q.mismatches
    conditions = [and_(m.c.found_at >= period.start, m.c.found_at < period.end)]
    if keys:
        conditions.append(m.c.key.in_(keys))
    if scope:
        conditions.append(m.c.payment_id.in_(scope))
    query = select(m.c.id).where(m.c.state == "open", or_(*conditions)).order_by(m.c.id)
    return [row.id for row in connection.execute(query)]


async def open_mismatches(store: Store, period: Period) -> list[int]:
    """Open mismatches that belong to ``period`` (found in it, or about its payments)."""

    def query(connection: Connection) -> list[int]:
        d = q.deposits
        ids = [
            r.payment_id
            for r in connection.execute(
                select(d.c.payment_id).where(d.c.created_at >= period.start, d.c.created_at < period.end)
            )
        ]
        return _open_in_period(connection, [], set(ids), period)

    return await store.scan(query)


async def sign_off(store: Store, period: Period, actor: str | None = None) -> None:
    """Record that ``period`` is reconciled; refused while anything in it is open."""
    still_open = await open_mismatches(store, period)
    if still_open:
        raise SignOffRefused(
            f"{len(still_open)} mismatch(es) still open in {period.label}: {', '.join(map(str, still_open[:10]))}"
        )
    who = actor or operator()

    def job(connection: Connection) -> None:
        statement = q._insert(connection, q.periods).values(
            start_at=period.start, end_at=period.end, signed_by=who, signed_at=now_us()
        )
        connection.execute(
            statement.on_conflict_do_update(
                index_elements=["start_at", "end_at"], set_={"signed_by": who, "signed_at": now_us()}
            )
        )
        q.write_audit(
            connection, [q.audit_row(now_us(), who, "sign_off", "period", period.label, "signed_off", None, who)]
        )

    await store.write(job)
