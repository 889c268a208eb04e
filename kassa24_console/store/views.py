"""What the console shows, read from the store: pages, searches and counters.

Every list is a bounded page by an indexed key (``id`` or time), so the console's cost does
not grow with the database.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, and_, case, func, literal_column, or_, select, tuple_, union
from sqlalchemy import column as sa_column
from sqlalchemy import table as sa_table

from ..filters import TrafficFilter
from .models import TableChange, table_of
from .queries import accounts, callbacks, contracts, deposits, mismatches, traffic
from .rows import CallbackLine, ContractLine, KeyUseRow, MismatchRow, TrafficLine, TrafficRow


def _traffic_conditions(flt: TrafficFilter) -> list[Any]:
    conditions: list[Any] = [] if flt.project is None else [traffic.c.project_id == flt.project]
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


_TRAFFIC_LIST_COLUMNS = [traffic.c[name] for name in TrafficLine._fields]


def traffic_after(connection: Connection, after_id: int, flt: TrafficFilter, limit: int) -> list[TrafficLine]:
    """Rows newer than ``after_id`` (oldest first), at most ``limit`` of the newest."""
    query = (
        select(*_TRAFFIC_LIST_COLUMNS)
        .where(traffic.c.id > after_id, *_traffic_conditions(flt))
        .order_by(traffic.c.id.desc())
        .limit(limit)
    )
    return [TrafficLine._make(row) for row in reversed(connection.execute(query).all())]


def traffic_before(connection: Connection, before_id: int, flt: TrafficFilter, limit: int) -> list[TrafficLine]:
    """The ``limit`` rows just older than ``before_id`` (oldest first): paging back."""
    query = (
        select(*_TRAFFIC_LIST_COLUMNS)
        .where(traffic.c.id < before_id, *_traffic_conditions(flt))
        .order_by(traffic.c.id.desc())
        .limit(limit)
    )
    return [TrafficLine._make(row) for row in reversed(connection.execute(query).all())]


def traffic_from(connection: Connection, from_id: int, flt: TrafficFilter, limit: int) -> list[TrafficLine]:
    """Up to ``limit`` rows from ``from_id`` on (oldest first): the window after paging back."""
    query = (
        select(*_TRAFFIC_LIST_COLUMNS)
        .where(traffic.c.id >= from_id, *_traffic_conditions(flt))
        .order_by(traffic.c.id)
        .limit(limit)
    )
    return [TrafficLine._make(row) for row in connection.execute(query)]


def traffic_total(connection: Connection, flt: TrafficFilter) -> int:
    """How many records the filter matches (counted when the view is rebuilt, not per tick)."""
    return connection.execute(select(func.count()).select_from(traffic).where(*_traffic_conditions(flt))).scalar_one()


def traffic_count_between(connection: Connection, after_id: int, upto_id: int, flt: TrafficFilter) -> int:
    """How many records the filter matches with ``after_id < id <= upto_id``: what a poll
    adds to the total when more came than it read, a range of the primary key, not the
    whole table (a recount at a million rows took tens of milliseconds per poll)."""
    bounds = (traffic.c.id > after_id, traffic.c.id <= upto_id)
    query = select(func.count()).select_from(traffic).where(*bounds, *_traffic_conditions(flt))
    return connection.execute(query).scalar_one()


def traffic_detail(connection: Connection, traffic_id: int) -> TrafficRow | None:
    found = connection.execute(select(traffic).where(traffic.c.id == traffic_id)).first()
    return None if found is None else TrafficRow._make(found)


def starts_with(connection: Connection, column: Any, term: str) -> Any:
    """``column`` begins with ``term``, as a range an index answers (SQLite compares text
    by code point, so every continuation of ``term`` sorts below ``term + U+10FFFF``);
    elsewhere as ``LIKE 'term%'`` (collation-safe)."""
    if connection.dialect.name == "sqlite":
        return and_(column >= term, column < term + "\U0010ffff")
    return column.startswith(term, autoescape=True)


_search = sa_table("contract_search", sa_column("id"), sa_column("project_id"), sa_column("contract_id"))
# A contract is (project, id): its id is unique only within its project (migration 0011).
_KEY = (contracts.c.project_id, contracts.c.id)
_ORDER = (contracts.c.project_id, contracts.c.customer_id, contracts.c.id)
_OWN_ACCOUNT = and_(accounts.c.project_id == contracts.c.project_id, accounts.c.customer_id == contracts.c.customer_id)
_search_fts = sa_table("contract_search_fts", sa_column("rowid"))
FRAGMENT_MIN = 3  # trigrams: a shorter search matches the start of a field instead


def _any_part(connection: Connection, term: str) -> list[Any]:
    """Contracts with ``term`` anywhere in their id, customer id, number or account name,
    in any case: FTS5 trigrams on SQLite, pg_trgm indexes on PostgreSQL (migration 0009)."""
    if connection.dialect.name == "sqlite":
        phrase = '"' + term.replace('"', '""') + '"'
        matched = select(_search_fts.c.rowid).where(literal_column("contract_search_fts").op("MATCH")(phrase))
        return [select(_search.c.project_id, _search.c.contract_id).where(_search.c.id.in_(matched))]
    pattern = "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return [
        select(*_KEY).where(_contract_terms().ilike(pattern, escape="\\")),
        select(*_KEY).join(accounts, _OWN_ACCOUNT).where(accounts.c.name.ilike(pattern, escape="\\")),
    ]


def _contract_terms() -> Any:
    """A contract's id, customer id and number apart (a unit separator no one types): the
    expression PostgreSQL's trigram index holds (migration 0009)."""
    gap = func.chr(31)
    return contracts.c.id.op("||")(gap).op("||")(contracts.c.customer_id).op("||")(gap).op("||")(contracts.c.number)


def _starts(connection: Connection, term: str) -> list[Any]:
    """Contracts whose id, customer id, number or account name begins with ``term``."""
    return [
        select(*_KEY).where(starts_with(connection, contracts.c.id, term)),
        select(*_KEY).where(starts_with(connection, contracts.c.customer_id, term)),
        select(*_KEY).where(starts_with(connection, contracts.c.number, term)),
        select(*_KEY).join(accounts, _OWN_ACCOUNT).where(starts_with(connection, accounts.c.name, term)),
    ]


def _contract_search(connection: Connection, query: Any, search: str) -> Any:
    """Contracts with the search anywhere in their id, customer id, number or account name
    (in any case; one or two characters: the start of a field, as typed), or that a payment
    id paid into: each an index lookup, so a search costs what it finds."""
    term = search.strip()
    if not term:
        return query
    found = _any_part(connection, term) if len(term) >= FRAGMENT_MIN else _starts(connection, term)
    paid_into = select(deposits.c.project_id, deposits.c.contract_id).where(deposits.c.payment_id == term)
    matching = union(*found, paid_into)
    return query.where(tuple_(*_KEY).in_(matching))


COUNT_CAP = 100_000  # a search's matches are counted up to this ("more than …" past it)


def _of_project(project: int | None) -> list[Any]:
    return [] if project is None else [contracts.c.project_id == project]


def contracts_count(connection: Connection, search: str, project: int | None = None) -> int:
    """How many contracts the search matches (for "1–500 of 10 020"), at most ``COUNT_CAP + 1``
    (of ``project`` only, when given)."""
    if not search.strip():  # every contract has its account (a foreign key): no join needed
        query = select(func.count()).select_from(contracts).where(*_of_project(project))
        return connection.execute(query).scalar_one()
    query = select(contracts.c.id).where(*_of_project(project))
    matches = _contract_search(connection, query, search).limit(COUNT_CAP + 1).subquery()
    return connection.execute(select(func.count()).select_from(matches)).scalar_one()


def contracts_page(
    connection: Connection, search: str, limit: int = 500, offset: int = 0, project: int | None = None
) -> list[ContractLine]:
    """Contracts with their account's name, narrowed by a search over ids, number and name
    (and to ``project``, when given)."""
    columns = [accounts.c.name if name == "name" else contracts.c[name] for name in ContractLine._fields]
    query = select(*columns).join(accounts, _OWN_ACCOUNT)
    query = query.where(*_of_project(project))
    # One project after another (the index of that order: no sort of the whole table).
    query = _contract_search(connection, query, search).order_by(*_ORDER)
    return [ContractLine._make(row) for row in connection.execute(query.limit(limit).offset(offset))]


def _callback_conditions(flt: TrafficFilter) -> list[Any]:
    conditions: list[Any] = [] if flt.project is None else [callbacks.c.project_id == flt.project]
    if flt.customer:
        conditions.append(callbacks.c.customer_id.contains(flt.customer, autoescape=True))
    if flt.signature_ok is not None:
        conditions.append(callbacks.c.signature_ok == flt.signature_ok)
    for word in flt.words:
        conditions.append(
            or_(
                callbacks.c.payment_id.contains(word, autoescape=True),
                callbacks.c.status.contains(word, autoescape=True),
                callbacks.c.outcome.contains(word, autoescape=True),
                callbacks.c.operation_id.contains(word, autoescape=True),
            )
        )
    return conditions


def callbacks_count(connection: Connection, flt: TrafficFilter) -> int:
    query = select(func.count()).select_from(callbacks).where(*_callback_conditions(flt))
    return connection.execute(query).scalar_one()


def callbacks_page(
    connection: Connection, flt: TrafficFilter | None = None, limit: int = 500, offset: int = 0
) -> list[CallbackLine]:
    """Callbacks, the most recently delivered first, narrowed as the traffic filter says."""
    query = select(*[callbacks.c[name] for name in CallbackLine._fields]).where(
        *_callback_conditions(flt or TrafficFilter())
    )
    query = query.order_by(callbacks.c.last_received_at.desc(), callbacks.c.id.desc())
    return [CallbackLine._make(row) for row in connection.execute(query.limit(limit).offset(offset))]


def _mismatch_conditions(show_resolved: bool, search: str, project: int | None = None) -> list[Any]:
    conditions: list[Any] = [] if show_resolved else [mismatches.c.state == "open"]
    if project is not None:
        conditions.append(mismatches.c.project_id == project)
    for word in search.split():
        conditions.append(
            or_(
                mismatches.c.payment_id.contains(word, autoescape=True),
                mismatches.c.kind.contains(word, autoescape=True),
            )
        )
    return conditions


def mismatches_count(connection: Connection, show_resolved: bool, search: str = "", project: int | None = None) -> int:
    conditions = _mismatch_conditions(show_resolved, search, project)
    query = select(func.count()).select_from(mismatches).where(*conditions)
    return connection.execute(query).scalar_one()


def mismatches_page(
    connection: Connection,
    show_resolved: bool,
    limit: int = 500,
    search: str = "",
    offset: int = 0,
    project: int | None = None,
) -> list[MismatchRow]:
    query = select(*[mismatches.c[name] for name in MismatchRow._fields]).where(
        *_mismatch_conditions(show_resolved, search, project)
    )
    query = query.order_by(mismatches.c.found_at.desc(), mismatches.c.id.desc())
    return [MismatchRow._make(row) for row in connection.execute(query.limit(limit).offset(offset))]


def first_traffic_id_since(connection: Connection, since_us: int) -> int:
    """The id just before the first row at or after ``since_us`` (one step on the time index)."""
    query = select(traffic.c.id).where(traffic.c.at >= since_us).order_by(traffic.c.at).limit(1)
    first = connection.execute(query).scalar()
    if first is None:
        return connection.execute(select(func.coalesce(func.max(traffic.c.id), 0))).scalar_one()
    return first - 1


def traffic_counts_after(connection: Connection, after_id: int) -> tuple[int, dict[int, tuple[int, int]]]:
    """Requests and errors per minute (epoch minute → counts) for rows after ``after_id``.

    The console adds these to its running totals, so each row is counted once, not rescanned
    every refresh.
    """
    minute = (traffic.c.at // 60_000_000).label("minute")  # floor division: / is true division
    is_error = or_(traffic.c.http_status >= 400, and_(traffic.c.code.is_not(None), traffic.c.code.not_in([0, 204])))
    query = (
        select(minute, func.count(), func.sum(case((is_error, 1), else_=0)), func.max(traffic.c.id))
        .where(traffic.c.id > after_id)
        .group_by(minute)
    )
    counts: dict[int, tuple[int, int]] = {}
    last = after_id
    for bucket, total, failed, top in connection.execute(query):
        seen = counts.get(int(bucket), (0, 0))
        counts[int(bucket)] = (seen[0] + total, seen[1] + (failed or 0))
        last = max(last, top)
    return last, counts


def open_mismatch_count(connection: Connection) -> int:
    return connection.execute(select(func.count()).where(mismatches.c.state == "open")).scalar_one()


def oldest_pending_deposit(connection: Connection) -> int | None:
    """When the oldest deposit still waiting for its callback was issued (None: none waits)."""
    return connection.execute(select(func.min(deposits.c.created_at)).where(deposits.c.state == "pending")).scalar()


def traffic_last_seconds(connection: Connection, since_us: int) -> tuple[int, int]:
    """Requests and errors at or after ``since_us`` (the rolling minute, on the time index)."""
    is_error = or_(traffic.c.http_status >= 400, and_(traffic.c.code.is_not(None), traffic.c.code.not_in([0, 204])))
    total, failed = connection.execute(
        select(func.count(), func.sum(case((is_error, 1), else_=0))).where(traffic.c.at >= since_us)
    ).one()
    return total, failed or 0


def table_changes(connection: Connection) -> dict[str, int]:
    """Writes counted per table (migration 0010): summed over PostgreSQL's per-backend rows."""
    t = table_of(TableChange)
    rows = connection.execute(select(t.c.name, func.sum(t.c.n)).group_by(t.c.name)).all()
    return {name: int(n) for name, n in rows}


def key_use(connection: Connection, since: int, keys: tuple[str, ...] = ("current", "previous")) -> list[KeyUseRow]:
    """Per project and key (current or previous): requests it signed since ``since`` (UTC
    µs) and when last — the traffic by time (indexed), never a key."""
    t = traffic
    found: list[KeyUseRow] = []
    for key in keys:  # each an index range (ix_traffic_key_used_at)
        found += map(
            KeyUseRow._make,
            connection.execute(
                select(t.c.project_id, t.c.key_used, func.count().label("n"), func.max(t.c.at).label("last_at"))
                .where(t.c.key_used == key, t.c.at >= since)
                .group_by(t.c.project_id, t.c.key_used)
            ),
        )
    return found
