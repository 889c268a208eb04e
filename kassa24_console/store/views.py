"""What the console shows, read from the store: pages, searches and counters.

Every list is a bounded page by an indexed key (``id`` or time), so the console's cost does
not grow with the database.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, and_, func, or_, select

from ..filters import TrafficFilter
from .queries import accounts, callbacks, contracts, mismatches, traffic


def _traffic_conditions(flt: TrafficFilter) -> list[Any]:
    conditions: list[Any] = []
    if flt.kind:
        conditions.append(traffic.c.kind.startswith(flt.kind, autoescape=True))
    if flt.code is not None:
        conditions.append(or_(traffic.c.code == flt.code, traffic.c.http_status == flt.code))
    if flt.customer:
        conditions.append(traffic.c.customer_id.contains(flt.customer, autoescape=True))
    if flt.contract:
        conditions.append(traffic.c.contract_id.contains(flt.contract, autoescape=True))
    if flt.signature_ok is not None:
        conditions.append(traffic.c.signature_ok == flt.signature_ok)
    for word in flt.words:
        conditions.append(
            or_(traffic.c.request.contains(word, autoescape=True), traffic.c.response.contains(word, autoescape=True))
        )
    return conditions


_TRAFFIC_LIST_COLUMNS = [c for c in traffic.c if c.name not in ("request", "response")]


def traffic_after(connection: Connection, after_id: int, flt: TrafficFilter, limit: int) -> list[Row[Any]]:
    """Rows newer than ``after_id`` (oldest first), at most ``limit`` of the newest."""
    query = (
        select(*_TRAFFIC_LIST_COLUMNS)
        .where(traffic.c.id > after_id, *_traffic_conditions(flt))
        .order_by(traffic.c.id.desc())
        .limit(limit)
    )
    return list(reversed(connection.execute(query).all()))


def traffic_before(connection: Connection, before_id: int, flt: TrafficFilter, limit: int) -> list[Row[Any]]:
    """The ``limit`` rows just older than ``before_id`` (oldest first): paging back."""
    query = (
        select(*_TRAFFIC_LIST_COLUMNS)
        .where(traffic.c.id < before_id, *_traffic_conditions(flt))
        .order_by(traffic.c.id.desc())
        .limit(limit)
    )
    return list(reversed(connection.execute(query).all()))


def traffic_from(connection: Connection, from_id: int, flt: TrafficFilter, limit: int) -> list[Row[Any]]:
    """Up to ``limit`` rows from ``from_id`` on (oldest first): the window after paging back."""
    query = (
        select(*_TRAFFIC_LIST_COLUMNS)
        .where(traffic.c.id >= from_id, *_traffic_conditions(flt))
        .order_by(traffic.c.id)
        .limit(limit)
    )
    return connection.execute(query).all()


def traffic_detail(connection: Connection, traffic_id: int) -> Row[Any] | None:
    return connection.execute(select(traffic).where(traffic.c.id == traffic_id)).first()


def contracts_page(connection: Connection, search: str, limit: int = 500) -> list[Row[Any]]:
    """Contracts with their account's name, narrowed by a search over ids, number and name."""
    query = select(
        contracts.c.id,
        contracts.c.customer_id,
        accounts.c.name,
        contracts.c.number,
        contracts.c.payment,
        contracts.c.min_payment,
        contracts.c.status_code,
        contracts.c.status_text,
    ).join(accounts, accounts.c.customer_id == contracts.c.customer_id)
    if search.strip():
        term = search.strip()
        query = query.where(
            or_(
                contracts.c.id.contains(term, autoescape=True),
                contracts.c.customer_id.contains(term, autoescape=True),
                contracts.c.number.contains(term, autoescape=True),
                accounts.c.name.contains(term, autoescape=True),
            )
        )
    return connection.execute(query.order_by(contracts.c.customer_id, contracts.c.id).limit(limit)).all()


def callbacks_page(connection: Connection, limit: int = 500) -> list[Row[Any]]:
    """The most recently delivered callbacks, newest first."""
    query = select(*[c for c in callbacks.c if c.name != "raw"]).order_by(callbacks.c.last_received_at.desc())
    return connection.execute(query.limit(limit)).all()


def mismatches_page(connection: Connection, show_resolved: bool, limit: int = 500) -> list[Row[Any]]:
    query = select(mismatches)
    if not show_resolved:
        query = query.where(mismatches.c.state == "open")
    return connection.execute(query.order_by(mismatches.c.found_at.desc()).limit(limit)).all()


def rate_per_minute(connection: Connection, since_us: int, minutes: int) -> tuple[list[int], list[int]]:
    """Requests and errors per minute for the last ``minutes`` minutes (oldest first)."""
    bucket = ((traffic.c.at - since_us) / 60_000_000).label("bucket")
    is_error = or_(traffic.c.http_status >= 400, and_(traffic.c.code.is_not(None), traffic.c.code.not_in([0, 204])))
    query = (
        select(bucket, func.count(), func.sum(func.cast(is_error, traffic.c.code.type)))
        .where(traffic.c.at >= since_us)
        .group_by(bucket)
    )
    requests, errors = [0] * minutes, [0] * minutes
    for index, total, failed in connection.execute(query):
        i = int(index)
        if 0 <= i < minutes:
            requests[i], errors[i] = total, failed or 0
    return requests, errors


def open_mismatch_count(connection: Connection) -> int:
    return connection.execute(select(func.count()).where(mismatches.c.state == "open")).scalar_one()
