"""Run the rules over a period of the store, keep the findings, sign periods off.

A period signs off only when (a) the platform's record was applied for every day of it and
(b) nothing that touches it is open: findings whose fact happened in it (a report-only
operation's time, a deposit's, a callback's), whenever they were found. Anything that opens
in a signed period later marks it reopened after sign-off, with the reason.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import replace
from datetime import date
from operator import attrgetter
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from ..config import Settings
from ..edits import os_user
from ..findings import RULE_KINDS, Finding, Thresholds
from ..i18n import _
from ..store import JobRefused, Store, now_us
from ..store import queries as q
from ..store import reconciliation as sr
from ..store.periods import (
    PeriodCallback,
    PeriodDeposit,
    PeriodOperation,
    deposits_by_id,
    edge_deposits,
    period_rows,
)
from ..store.platform import OPERATION_COLUMNS, upsert_operations
from ..store.reconciliation import SignedPeriodRow
from ..zones import zone as time_zone
from . import rules
from .period import Month, Period, months_of
from .report import Operation
from .summary import Sides, Summary, combine, sides
from .words import kind_name


class SignOffRefused(JobRefused):
    """The period cannot be signed; the text says exactly why (nothing was written)."""


async def store_operations(
    store: Store,
    operations: list[Operation],
    source: str,
    days: Iterable[str] = (),
    actor: str | None = None,
    project: int | None = None,
) -> int:
    """Upsert the platform's operations by operation id (re-importing adds nothing) and
    record that ``source`` is the platform's record of ``project`` (the first project) for
    ``days``, in one transaction. Operations that name no project are the project's; the
    caller routes those that name one (an operation never lands in another project)."""
    at = now_us()
    who = actor or os_user()
    project = store.default_project if project is None else project
    assert all(op.project_id in (None, project) for op in operations), "routed by the caller"
    operations = [op if op.project_id is not None else replace(op, project_id=project) for op in operations]
    coverage = [
        {"project_id": project, "day": day, "source": source}
        | {"operations": len(operations), "applied_at": at, "applied_by": who}
        for day in days
    ]

    fields = attrgetter(*OPERATION_COLUMNS[:-2])  # the operation's own, then its source and time

    def job(connection: Connection) -> None:
        for start in range(0, len(operations), 5000):  # a month is 100 000: rows made a slice at a time
            upsert_operations(connection, [(*fields(op), source, at) for op in operations[start : start + 5000]])
        sr.record_coverage(connection, coverage)

    await store.write(job)
    return len(operations)


class Loaded(NamedTuple):
    """What the rules need of one period, as the store read it."""

    deposits: list[PeriodDeposit]
    callbacks: list[PeriodCallback]
    operations: list[PeriodOperation]
    covered: frozenset[str]
    in_period_ids: list[str]
    neighbours: list[PeriodDeposit]


def _load(connection: Connection, period: Period, window: int) -> Loaded:
    """What the rules need of the period, and no more: its deposits, the callbacks and
    operations of the period or of its deposits, the deposits those refer to, and those
    within ``window`` µs of its edges (a retry's other half)."""
    deposits, operations, callbacks = period_rows(connection, period.start, period.end, period.project, period.default)
    in_period_ids = [x.payment_id for x in deposits]
    referenced = {x.payment_id for x in callbacks if x.payment_id} | {x.payment_id for x in operations if x.payment_id}
    # deposits made before the period that its records refer to
    deposits += deposits_by_id(connection, sorted(referenced - set(in_period_ids)), period.project)
    covered = _covered(connection, period)
    return Loaded(
        deposits=deposits,
        callbacks=callbacks,
        operations=operations,
        covered=frozenset(covered),
        in_period_ids=in_period_ids,
        neighbours=edge_deposits(connection, period.start, period.end, window, period.project),
    )


def _covered(connection: Connection, period: Period) -> set[str]:
    """The period's days the project's platform record was applied for."""
    return sr.covered_days(connection, period.project, period.days)


def _monthly_totals(
    connection: Connection, months: list[Month], limit: int, project: int
) -> dict[tuple[str, str], int]:
    """Each customer's paid total of the months the period touches, summed by the database
    (a month of deposits is far more than a day's); only the totals over ``limit``."""
    return sr.paid_totals_over(connection, [(m.label, m.start, m.end) for m in months], limit, project)


async def reconcile(
    store: Store, settings: Settings, period: Period, *, now: int | None = None, project: int | None = None
) -> Summary:
    """Compare the three records of ``project`` (the first project) for ``period`` and keep
    what disagrees as mismatches, each the project's.

    A period of several days is compared a day at a time and the days' sides added up: a
    month is 100 000 rows of each record, and a day's are all the rules need at once (a
    pair split by midnight inside the period cancels out when the days are added)."""
    zone = time_zone(settings.timezone)
    period = period.of(store.default_project if project is None else project, store.default_project)
    # The month's sums run in the database while the days' rows load and the rules run.
    months = months_of(period, zone)
    monthly = asyncio.ensure_future(store.scan(_monthly_totals, months, settings.monthly_limit, period.project))
    at = now if now is not None else now_us()
    findings: dict[str, Finding] = {}
    parts: list[Sides] = []
    scope: set[str | None] = set()
    covered: set[str] = set()
    try:
        for part in _parts(period, zone):
            part = part.of(period.project, period.default)
            loaded = await store.scan(_load, part, settings.retry_window_seconds * 1_000_000)
            records = _records(loaded, part, at, settings)
            found = rules.find(records, zone)
            parts.append(sides(records, found, at, zone))
            findings.update((f.key, f) for f in found)
            scope |= set(loaded.in_period_ids) | {op.payment_id for op in loaded.operations}
            covered |= loaded.covered
    except BaseException:
        monthly.cancel()
        raise
    kept = [*findings.values(), *rules.monthly_limit(await monthly, settings.monthly_limit, period.start)]
    for finding in kept:  # each the project's (a customer id may repeat in another project)
        finding.project_id = period.project
        if finding.kind == "monthly_limit" and period.project != period.default:
            finding.key += f":{period.project}"
    summary = Summary(period, kept, sides=combine(parts, set(period.days)))
    summary.uncovered = [day for day in period.days if day not in covered]
    summary.open_ids, summary.reopened = await store.write(lambda connection: _keep(connection, kept, scope, period))
    return summary


def _parts(period: Period, zone: ZoneInfo) -> list[Period]:
    """The period's days, each a period of its own (or the period, when not made of days)."""
    if period.first is None or period.last is None:
        return [period]
    return [Period.of_days(date.fromisoformat(day), date.fromisoformat(day), zone) for day in period.days]


def _records(loaded: Loaded, period: Period, at: int, settings: Settings) -> rules.Records:
    return rules.Records(
        deposits=loaded.deposits,
        callbacks=loaded.callbacks,
        operations=loaded.operations,
        start=period.start,
        end=period.end,
        now=at,
        covered_days=loaded.covered,
        limits=Thresholds.of(settings),
        neighbours=loaded.neighbours,
    )


def _keep(
    connection: Connection, findings: list[Finding], scope: set[str | None], period: Period
) -> tuple[list[int], int]:
    """Insert new findings, refresh known ones (reopening when the evidence changed), and
    close rule-found mismatches in scope that the records no longer show."""
    at = now_us()
    reopened = 0
    keys = [f.key for f in findings]
    existing = sr.mismatches_by_key(connection, keys)
    for f in findings:
        row = existing.get(f.key)
        if row is None:
            q.flag(connection, **f.flag_args(), at=at)
            continue
        values: dict[str, Any] = {}
        if row.occurred_at != f.occurred_at and f.occurred_at is not None:
            values["occurred_at"] = f.occurred_at
        if row.evidence != f.evidence:
            values["evidence"] = f.evidence
            if row.state == "resolved":
                reopened += 1
                values.update(state="open", resolved_by=None, resolved_at=None)
                values["note"] = (row.note + " · reopened: the evidence changed").strip(" ·")
                q.write_audit(
                    connection,
                    [
                        q.audit_row(
                            at,
                            "reconcile",
                            "reopen",
                            "mismatch",
                            str(row.id),
                            "state",
                            "resolved",
                            "open",
                            note="the evidence changed",
                            project=period.project,
                        )
                    ],
                )
                reason = f"{f.kind} reopened for {f.payment_id}"
                q.reopen_signed(connection, f.occurred_at or row.found_at, reason, at, period.project)
        if values:
            sr.update_mismatch(connection, row.id, values)
    _close_stale(connection, keys, scope, at, period)
    return open_in_period(connection, period), reopened


def _close_stale(connection: Connection, keys: list[str], scope: set[str | None], at: int, period: Period) -> None:
    if not scope:
        return
    # Open findings are few and a month's scope is 100 000 payment ids: filter here, not in SQL.
    found = set(keys)
    candidates = sr.open_rule_findings(connection, RULE_KINDS, period.project, period.default)
    stale_ids = [r.id for r in candidates if r.payment_id in scope and r.key not in found]
    sr.resolve_mismatches(connection, stale_ids, "reconcile", at, "no longer found by reconciliation", period.project)


def touching(connection: Connection, period: Period, *, open_only: bool = True) -> list[int]:
    """Mismatches that touch ``period``: their fact happened in it (or, for records from
    before facts were dated, they were found in it), or they are about its deposits.
    Forged callbacks are not money of the period and never hold a sign-off. Only the
    period's project's (those naming none: the first project's)."""
    return sr.touching(connection, period.start, period.end, period.project, period.default, open_only=open_only)


def open_in_period(connection: Connection, period: Period) -> list[int]:
    return touching(connection, period)


def _refusal(connection: Connection, period: Period) -> str | None:
    covered = _covered(connection, period)
    missing = [day for day in period.days if day not in covered]
    reasons = []
    if missing:
        shown = ", ".join(missing[:7])
        if len(missing) > 7:
            shown += " " + _("and {n} more").format(n=len(missing) - 7)
        reasons.append(
            _("no platform record for {days} (import the day's report or fetch it with --data-api)").format(days=shown)
        )
    open_ids = open_in_period(connection, period)
    if open_ids:
        rows = sr.briefs(connection, open_ids[:10])
        listed = "; ".join(f"#{r.id} {kind_name(r.kind)} {r.payment_id or ''}".strip() for r in rows)
        more = "; " + _("and {n} more").format(n=len(open_ids) - 10) if len(open_ids) > 10 else ""
        reasons.append(_("{n} open: {listed}").format(n=len(open_ids), listed=listed + more))
    return " · ".join(reasons) or None


async def sign_off(store: Store, period: Period, actor: str | None = None, project: int | None = None) -> None:
    """Record that ``period`` of ``project`` (the first project) is reconciled; refused,
    saying why, unless the project's platform record covers every day of it and nothing of
    the project's that touches it is open. The check and the signature are one transaction."""
    who = actor or os_user()
    period = period.of(store.default_project if project is None else project, store.default_project)

    def job(connection: Connection) -> None:
        if reason := _refusal(connection, period):
            raise SignOffRefused(reason)
        at = now_us()
        sr.sign_period(connection, period.project, period.start, period.end, who, at)
        row = q.audit_row(at, who, "sign_off", "period", period.label, "signed_off", None, who, project=period.project)
        q.write_audit(connection, [row])

    await store.write(job)


def signed_periods(connection: Connection, start: int, end: int, project: int | None = None) -> list[SignedPeriodRow]:
    """Signed periods overlapping [start, end), newest first: who, when, reopened and why
    (only ``project``'s when given)."""
    return sr.signed_periods(connection, start, end, project)
