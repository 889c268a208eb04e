"""Alert statements: what the rules read, and the alert state every process shares.

Claims decide who sends: a new episode is an insert that the unique ``active_key`` lets
only one process make; a repeat and a resolution are updates conditional on the row as it
must be (still active, not acknowledged, last sent long enough ago). None of them reads a
row first and writes it back after, so two listeners and a console send each message once.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from sqlalchemy import Connection, and_, case, exists, func, literal, or_, select, true, update

from .models import Alert, AlertDelivery, table_of
from .queries import _insert, audit_row, callbacks, deposits, mismatches, traffic, write_audit

alerts = table_of(Alert)
deliveries = table_of(AlertDelivery)


# --- the rows these statements return ------------------------------------------------------


class SignatureFailures(NamedTuple):
    """Requests from one peer, of one kind, failed for one reason: how many."""

    peer: str
    kind: str
    reason: str | None
    n: int


class OverdueDeposit(NamedTuple):
    payment_id: str
    customer_id: str
    amount: int
    currency: str


class NewFinding(NamedTuple):
    """An open finding as the new-findings rule reads it (``evidence``: its facts)."""

    found_at: int
    kind: str
    payment_id: str | None
    evidence: dict[str, Any] | None


class ActiveAlert(NamedTuple):
    key: str
    rule: str


class RepeatClaim(NamedTuple):
    """An episode this process now sends again."""

    id: int
    started_at: int
    title: str


class EndedAlert(NamedTuple):
    """An episode this process ended."""

    id: int
    rule: str
    title: str
    started_at: int


class AlertRow(NamedTuple):
    """One alert episode, every column (``active_key``: set while it holds)."""

    id: int
    key: str
    rule: str
    active_key: str | None
    title: str
    text: str
    started_at: int
    last_sent_at: int
    sends: int
    resolved_at: int | None
    acked_by: str | None
    acked_at: int | None
    ack_note: str
    project_id: int | None


class DeliveryRow(NamedTuple):
    """What one channel did with one message of an episode."""

    id: int
    alert_id: int | None
    event: str
    channel: str
    ok: bool
    attempts: int
    error: str | None
    at: int


_ALERT_COLUMNS = [alerts.c[name] for name in AlertRow._fields]
_DELIVERY_COLUMNS = [deliveries.c[name] for name in DeliveryRow._fields]

# --- what the rules read ----------------------------------------------------------------


def signature_failures(connection: Connection, since: int, limit: int = 20) -> list[SignatureFailures]:
    """Requests that failed the signature since ``since``, grouped by peer, kind and reason
    (the diagnosis: which key or signer form was likely at fault): the largest groups first."""
    query = (
        select(traffic.c.peer, traffic.c.kind, traffic.c.reason, func.count().label("n"))
        .where(traffic.c.at >= since, traffic.c.signature_ok.is_(False))
        .group_by(traffic.c.peer, traffic.c.kind, traffic.c.reason)
        .order_by(func.count().desc())
        .limit(limit)
    )
    return [SignatureFailures._make(row) for row in connection.execute(query)]


def signature_failure_count(connection: Connection, since: int) -> int:
    query = select(func.count()).where(traffic.c.at >= since, traffic.c.signature_ok.is_(False))
    return connection.execute(query).scalar_one()


def error_counts(connection: Connection, since: int) -> tuple[int, int]:
    """Requests since ``since``, and those answered with code 500 or an HTTP 5xx."""
    failed = or_(traffic.c.code == 500, traffic.c.http_status >= 500)
    total, errors = connection.execute(
        select(func.count(), func.sum(case((failed, 1), else_=0))).where(traffic.c.at >= since)
    ).one()
    return total, errors or 0


def overdue_deposits(connection: Connection, before: int, limit: int = 5) -> tuple[int, list[OverdueDeposit]]:
    """Deposits still pending that were issued before ``before``: how many, and the oldest."""
    pending = and_(deposits.c.state == "pending", deposits.c.created_at < before)
    total = connection.execute(select(func.count()).where(pending)).scalar_one()
    if not total:
        return 0, []
    columns = [deposits.c[name] for name in OverdueDeposit._fields]
    rows = connection.execute(select(*columns).where(pending).order_by(deposits.c.created_at).limit(limit))
    return total, [OverdueDeposit._make(row) for row in rows]


def callback_silence(connection: Connection) -> tuple[int | None, int | None]:
    """When the last signed callback arrived, and the first deposit issued after it."""
    last = connection.execute(
        select(callbacks.c.last_received_at)
        .where(callbacks.c.signature_ok.is_(True))
        .order_by(callbacks.c.last_received_at.desc())
        .limit(1)
    ).scalar()
    since = deposits.c.created_at > last if last is not None else true()
    first = connection.execute(select(func.min(deposits.c.created_at)).where(since)).scalar()
    return last, first


def open_findings_since(connection: Connection, kinds: Iterable[str], since: int) -> list[NewFinding]:
    """Open findings of ``kinds`` found at or after ``since`` (reconciliation stamps one run's
    findings with one time, so ``found_at`` tells the runs apart)."""
    query = (
        select(*[mismatches.c[name] for name in NewFinding._fields])
        .where(mismatches.c.state == "open", mismatches.c.kind.in_(list(kinds)), mismatches.c.found_at >= since)
        .order_by(mismatches.c.found_at, mismatches.c.id)
    )
    return [NewFinding._make(row) for row in connection.execute(query)]


# --- alert state --------------------------------------------------------------------------


def start_alert(
    connection: Connection, key: str, rule: str, title: str, text: str, at: int, project_id: int | None = None
) -> int | None:
    """A new episode of ``key``: its id when this call started it, None when one is active,
    or when an episode of ``key`` ended at or after ``at`` (an evaluation made before
    another process saw the condition clear must not start it again: no flapping)."""
    values = {
        "key": key,
        "rule": rule,
        "active_key": key,
        "title": title,
        "text": text,
        "started_at": at,
        "last_sent_at": at,
        "sends": 1,
        "project_id": project_id,  # None: about the whole install
    }
    ended_since = select(alerts.c.id).where(alerts.c.key == key, alerts.c.resolved_at >= at)
    row = select(*[literal(v, alerts.c[k].type).label(k) for k, v in values.items()]).where(~exists(ended_since))
    statement = _insert(connection, alerts).from_select(list(values), row)
    statement = statement.on_conflict_do_nothing(index_elements=["active_key"]).returning(alerts.c.id)
    return connection.execute(statement).scalar()


def claim_repeat(connection: Connection, key: str, text: str, at: int, repeat_us: int) -> RepeatClaim | None:
    """The active, unacknowledged episode of ``key`` last sent at least ``repeat_us`` ago,
    now marked sent again (its row), or None: nobody repeats it twice."""
    statement = (
        update(alerts)
        .where(alerts.c.active_key == key, alerts.c.acked_at.is_(None), alerts.c.last_sent_at <= at - repeat_us)
        .values(last_sent_at=at, sends=alerts.c.sends + 1, text=text)
        .returning(*[alerts.c[name] for name in RepeatClaim._fields])
    )
    found = connection.execute(statement).first()
    return None if found is None else RepeatClaim._make(found)


def refresh_text(connection: Connection, key: str, text: str) -> None:
    """What the active episode says now (the console shows the latest details)."""
    connection.execute(update(alerts).where(alerts.c.active_key == key, alerts.c.text != text).values(text=text))


def resolve_alert(connection: Connection, key: str, at: int) -> EndedAlert | None:
    """End the active episode of ``key``; its row when this call ended it, else None."""
    statement = (
        update(alerts)
        .where(alerts.c.active_key == key)
        .values(active_key=None, resolved_at=at)
        .returning(*[alerts.c[name] for name in EndedAlert._fields])
    )
    found = connection.execute(statement).first()
    return None if found is None else EndedAlert._make(found)


def acknowledge(connection: Connection, alert_id: int, actor: str, note: str, at: int) -> bool:
    """Silence an active episode's repeats until it resolves; audited with the note. False
    when it is no longer active or someone acknowledged it already."""
    statement = (
        update(alerts)
        .where(alerts.c.id == alert_id, alerts.c.active_key.is_not(None), alerts.c.acked_at.is_(None))
        .values(acked_by=actor, acked_at=at, ack_note=note)
        .returning(alerts.c.project_id)
    )
    acked = connection.execute(statement).first()
    if acked is None:
        return False
    row = audit_row(at, actor, "acknowledge", "alert", str(alert_id), "acked", None, "yes", note=note, project=acked[0])
    write_audit(connection, [row])
    return True


def record_deliveries(connection: Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        connection.execute(deliveries.insert(), rows)


def active_keys(connection: Connection) -> list[ActiveAlert]:
    query = select(alerts.c.key, alerts.c.rule).where(alerts.c.active_key.is_not(None))
    return [ActiveAlert._make(row) for row in connection.execute(query)]


def active_count(connection: Connection) -> int:
    return connection.execute(select(func.count()).where(alerts.c.active_key.is_not(None))).scalar_one()


def listing(
    connection: Connection, recent: int = 50, project: int | None = None
) -> tuple[list[AlertRow], list[AlertRow]]:
    """Active episodes (oldest first) and the ``recent`` latest resolved ones; with ``project``,
    that project's and those about the whole install (they concern it too), not another's."""
    mine = [] if project is None else [or_(alerts.c.project_id == project, alerts.c.project_id.is_(None))]
    active = connection.execute(
        select(*_ALERT_COLUMNS)
        .where(alerts.c.active_key.is_not(None), *mine)
        .order_by(alerts.c.started_at, alerts.c.id)
    )
    resolved = connection.execute(
        select(*_ALERT_COLUMNS)
        .where(alerts.c.active_key.is_(None), *mine)
        .order_by(alerts.c.started_at.desc(), alerts.c.id.desc())
        .limit(recent)
    )
    return [AlertRow._make(row) for row in active], [AlertRow._make(row) for row in resolved]


def deliveries_of(connection: Connection, alert_ids: list[int]) -> list[DeliveryRow]:
    if not alert_ids:
        return []
    query = select(*_DELIVERY_COLUMNS).where(deliveries.c.alert_id.in_(alert_ids)).order_by(deliveries.c.id)
    return [DeliveryRow._make(row) for row in connection.execute(query)]


def alert(connection: Connection, alert_id: int) -> AlertRow | None:
    found = connection.execute(select(*_ALERT_COLUMNS).where(alerts.c.id == alert_id)).first()
    return None if found is None else AlertRow._make(found)
