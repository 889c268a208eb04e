"""PostgreSQL: the payment path on asyncpg directly, group-committed like SQLite's.

SQLAlchemy's asyncio adaptation costs a greenlet switch per statement plus its execution
path, and its pool pings every checkout: verify on PostgreSQL ran at a seventh of SQLite's
rate. The three statements every payment takes — verify's account read, check_deposit's
insert, a callback's settle and credit — run here as plain SQL on an asyncpg pool, where
each connection prepares a statement once and reuses it (asyncpg's statement cache).
SQLAlchemy keeps everything else, and the migrations.

Writes are grouped: jobs queued while a group runs go into the next one, a few groups at
once, and each caller is answered only after its group commits. A group that fails
(a deadlock between two processes, a constraint) is rolled back whole and its jobs run
again one by one, so one job never sinks the others and nothing is half-written.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NamedTuple, TypeVar

from sqlalchemy.engine import make_url

from . import models

log = logging.getLogger(__name__)

T = TypeVar("T")
HotJob = Callable[["HotTransaction"], Awaitable[T]]

POOL_SIZE = 16  # connections per process: the reads of the requests in flight and the groups
GROUPS_AT_ONCE = 6  # groups committing at once: while one waits for its WAL flush, the next fills
DEADLOCK_RETRIES = 3
_TRANSIENT_STATES = frozenset({"40P01", "40001"})  # deadlock detected, serialization failure


def _columns(table: Any) -> tuple[str, ...]:
    return tuple(c.name for c in table.c)


_ACCOUNT_COLUMNS = _columns(models.table_of(models.Account))
_CONTRACT_COLUMNS = _columns(models.table_of(models.Contract))
ACCOUNT_WITH_CONTRACTS = (
    f"SELECT {', '.join('a.' + c for c in _ACCOUNT_COLUMNS)}, {', '.join('c.' + c for c in _CONTRACT_COLUMNS)}"
    " FROM accounts a LEFT JOIN contracts c ON c.project_id = a.project_id AND c.customer_id = a.customer_id"
    " WHERE a.project_id = $1 AND a.customer_id = $2 ORDER BY c.id"
)
DEPOSIT_COLUMNS = _columns(models.table_of(models.Deposit))
_PG_TYPES = {"BIGINT": "bigint", "INTEGER": "integer", "VARCHAR": "text", "BOOLEAN": "boolean"}
# A group's deposits in one statement, a column an array (one round trip, one trigger).
INSERT_DEPOSITS = (
    f"INSERT INTO deposits ({', '.join(DEPOSIT_COLUMNS)}) SELECT * FROM unnest("
    + ", ".join(
        f"${i}::{_PG_TYPES[str(models.table_of(models.Deposit).c[c].type).split('(')[0]]}[]"
        for i, c in enumerate(DEPOSIT_COLUMNS, 1)
    )
    + ")"
)
CALLBACK_COLUMNS = (
    "project_id", "received_at", "last_received_at", "deliveries", "dedupe_key", "signature_ok", "payment_id",
    "operation_id", "status", "operation_status", "amount", "currency", "customer_id", "deposit_id", "outcome", "raw",
)  # fmt: skip
_CALLBACK_VALUES = ", ".join(f"${i}" for i in range(6, 6 + len(CALLBACK_COLUMNS)))
_REASON = f"${6 + len(CALLBACK_COLUMNS)}"
# A callback in one round trip: the pending deposit settled only when the callback agrees
# with it (its currency; for a payment its amount, a positive one), and then the callback
# stored (or one more delivery counted) and a signed period holding the deposit reopened.
# No row back: the deposit was not settled, nothing was written, the full rules decide.
# Only a deposit of the callback's project ($6, the callback's project_id) is settled.
SETTLE = (
    "WITH settled AS (UPDATE deposits SET state = $2::text,"
    " paid_amount = CASE WHEN $2::text = 'paid' THEN coalesce($3::bigint, amount) END, updated_at = $4"
    " WHERE payment_id = $1 AND project_id = $6 AND state = 'pending' AND amount > 0"
    " AND ($5::text IS NULL OR currency = $5::text) AND ($3::bigint IS NULL OR amount = $3::bigint)"
    " RETURNING project_id, contract_id, amount, created_at),"
    f" stored AS (INSERT INTO callbacks ({', '.join(CALLBACK_COLUMNS)}) SELECT {_CALLBACK_VALUES} FROM settled"
    " ON CONFLICT (dedupe_key) DO UPDATE SET deliveries = callbacks.deliveries + 1,"
    " last_received_at = excluded.last_received_at RETURNING deliveries),"
    f" reopened AS (UPDATE periods SET reopened_at = $4, reopened_reason = left({_REASON}::text, 300) FROM settled"
    " WHERE periods.project_id = settled.project_id AND start_at <= settled.created_at"
    " AND end_at > settled.created_at AND reopened_at IS NULL)"
    " SELECT contract_id, amount, created_at, (SELECT deliveries FROM stored) AS deliveries FROM settled"
)
# A credit and its audit row in one round trip, when it fits in what is due (money past it
# is for the full rules); the contract's row is locked before it is read, so the recorded
# "before" is exact. Answers what was due and whether it was credited.
CREDIT = (
    "WITH old AS (SELECT project_id, id, payment FROM contracts WHERE project_id = $5 AND id = $1 FOR UPDATE),"
    " credited AS (UPDATE contracts c SET payment = old.payment - $2, updated_at = $3, version = c.version + 1"
    " FROM old WHERE c.project_id = old.project_id AND c.id = old.id AND old.payment >= $2"
    " RETURNING old.payment AS before, c.payment AS after),"
    " audited AS (INSERT INTO audit (at, project_id, actor, kind, entity, entity_id, field, old, new, note, cause)"
    " SELECT $3, $5, 'platform', 'payment', 'contract', $1, 'payment', before::text, after::text, '', $4"
    " FROM credited)"
    " SELECT (SELECT payment FROM old) AS due, EXISTS (SELECT 1 FROM credited) AS credited"
)


class SettleRefused(Exception):
    """A job found, after writing, that the full rules must decide after all (a repeat, a
    credit past what is due): its group rolls back, and run alone the job answers None
    (the caller then takes the full rules)."""


class HotSettled(NamedTuple):
    """A deposit the hot path settled: what a credit needs, and the callback's deliveries."""

    contract_id: str | None
    amount: int
    created_at: int
    deliveries: int


class HotTransaction:
    """One group's transaction: the statements a payment takes, begun by the first that
    needs it; new deposits and credits held to the end. A group of new deposits alone is
    one statement in no transaction of ours (a statement is atomic): a round trip where
    BEGIN, an INSERT a deposit and COMMIT took two more than the deposits."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self._credits: list[tuple[int, str, int, int, str]] = []
        self._deposits: list[dict[str, Any]] = []
        self._transaction: Any = None

    async def _begin(self) -> None:
        if self._transaction is None:
            self._transaction = self.connection.transaction()
            await self._transaction.start()

    async def insert_deposit(self, values: dict[str, Any]) -> None:
        """A new pending deposit, inserted with the group's others when it ends."""
        self._deposits.append(values)

    async def settle(
        self, payment_id: str, state: str, amount: int | None, currency: str | None, callback: dict[str, Any]
    ) -> HotSettled | None:
        """Settle a pending deposit that agrees with the callback as ``state``, store the
        callback and reopen a signed period holding the deposit: the deposit's contract_id,
        amount, created_at and the callback's deliveries; None (nothing written) when the
        full rules must decide."""
        at, reason = callback["received_at"], f"a callback ({callback['status']}) arrived for {payment_id}"
        values = [callback.get(c) for c in CALLBACK_COLUMNS]
        await self._begin()
        row = await self.connection.fetchrow(SETTLE, payment_id, state, amount, at, currency, *values, reason)
        return None if row is None else HotSettled._make(row.values())

    def credit(self, project_id: int, contract_id: str, amount: int, at: int, payment_id: str) -> None:
        """Lower what is due on the project's contract by ``amount`` at the end of the group,
        in (project, contract id) order (two processes' groups never wait on each other in a circle)."""
        self._credits.append((project_id, contract_id, amount, at, payment_id))

    async def finish(self) -> None:
        """The held deposits and credits, then the commit; on any failure nothing of the
        group is kept."""
        try:
            deposits, self._deposits = self._deposits, []
            if deposits:
                if self._credits:
                    await self._begin()
                columns = [[d.get(c) for d in deposits] for c in DEPOSIT_COLUMNS]
                await self.connection.execute(INSERT_DEPOSITS, *columns)
            await self.apply_credits()
        except BaseException:
            await self.rollback()
            raise
        if self._transaction is not None:
            await self._transaction.commit()

    async def rollback(self) -> None:
        """Undo what the group wrote (a connection that broke has nothing to undo; the
        pool's reset rolls back whatever is left open)."""
        if self._transaction is not None:
            with contextlib.suppress(Exception):
                await self._transaction.rollback()

    async def apply_credits(self) -> None:
        """The held credits; one that would pay past what is due sends its group back and
        its job to the full rules (which decide what an overpayment does)."""
        credits, self._credits = sorted(self._credits), []
        if credits:
            await self._begin()
        for project_id, contract_id, amount, at, payment_id in credits:
            row = await self.connection.fetchrow(CREDIT, contract_id, amount, at, payment_id, project_id)
            if row["due"] is not None and not row["credited"]:
                raise SettleRefused


Queued = tuple[HotJob[Any], "asyncio.Future[Any]"]


class HotPath:
    """An asyncpg pool (opened on first use) and the group commit of payment writes."""

    def __init__(self, url: str) -> None:
        self._dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        self._pool: Any = None
        self._opening = asyncio.Lock()
        self._jobs: list[Queued] = []
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._groups: set[asyncio.Task[None]] = set()
        self.groups = 0  # committed groups (tests and metrics can tell the path was taken)
        self._closed = False

    async def pool(self) -> Any:
        if self._pool is None:
            async with self._opening:
                if self._pool is None:
                    import asyncpg

                    self._pool = await asyncpg.create_pool(
                        self._dsn, min_size=1, max_size=POOL_SIZE, reset=_rollback_if_open
                    )
        return self._pool

    async def account_rows(self, project_id: int, customer_id: str) -> list[Sequence[object]]:
        """Verify's read: the project's account and its contracts, one prepared statement (the
        driver's records, made ``AccountRow`` and ``ContractRow`` by ``queries.account_from_rows``)."""
        pool = await self.pool()
        return await pool.fetch(ACCOUNT_WITH_CONTRACTS, project_id, customer_id)

    async def copy_rows(self, table: str, columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> bool:
        """Rows appended in one ``COPY`` (its own transaction; no caller waits on it): the
        traffic records, which through SQLAlchemy's asyncio adaptation cost the loop a
        greenlet switch and parameter processing a row (a profile of a PostgreSQL cycle
        load: 6.6 % of the process). False once closed: the writer's last flush takes
        SQLAlchemy's way."""
        if self._closed:
            return False
        pool = await self.pool()
        records = [tuple(row.get(c) for c in columns) for row in rows]
        async with pool.acquire() as connection:
            await connection.copy_records_to_table(table, records=records, columns=list(columns))
        return True

    async def write(self, job: HotJob[T]) -> T:
        """Run ``job`` in the next group transaction; its result once committed."""
        if self._closed:
            raise RuntimeError("the store is not accepting writes")
        if self._task is None:
            self._wake = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run(), name="k24-pg-hot")
        assert self._wake is not None
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._jobs.append((job, future))
        self._wake.set()
        return await future

    async def _run(self) -> None:
        assert self._wake is not None
        slots = asyncio.Semaphore(GROUPS_AT_ONCE)
        while True:
            await self._wake.wait()
            await slots.acquire()
            self._wake.clear()
            jobs, self._jobs = self._jobs, []
            if not jobs:
                slots.release()
                continue
            task = asyncio.get_running_loop().create_task(self._group(jobs))
            self._groups.add(task)

            def finished(done: asyncio.Task[None], slots: asyncio.Semaphore = slots) -> None:
                self._groups.discard(done)
                slots.release()

            task.add_done_callback(finished)

    async def _group(self, jobs: list[Queued]) -> None:
        try:
            results = await self._transaction([job for job, _ in jobs])
        except Exception as error:
            if not _transient(error) and not isinstance(error, SettleRefused):
                log.warning("group of %d payment writes failed; retrying one by one", len(jobs), exc_info=True)
            for job, future in jobs:
                await self._alone(job, future)
            return
        for (_, future), result in zip(jobs, results, strict=True):
            if not future.done():
                future.set_result(result)

    async def _transaction(self, jobs: list[HotJob[Any]]) -> list[Any]:
        pool = await self.pool()
        async with pool.acquire() as connection:
            tx = HotTransaction(connection)
            try:
                results = [await job(tx) for job in jobs]
            except BaseException:
                await tx.rollback()
                raise
            await tx.finish()
        self.groups += 1
        return results

    async def _alone(self, job: HotJob[Any], future: asyncio.Future[Any]) -> None:
        """One job in a transaction of its own, again when chosen as a deadlock's victim
        (rolled back whole, so safe to repeat)."""
        for attempt in range(DEADLOCK_RETRIES + 1):
            try:
                (result,) = await self._transaction([job])
            except SettleRefused:
                result = None
            except Exception as error:
                if attempt < DEADLOCK_RETRIES and _transient(error):
                    await asyncio.sleep(0.02 * (attempt + 1))
                    continue
                if not future.done():
                    future.set_exception(error)
                return
            if not future.done():
                future.set_result(result)
            return

    async def close(self) -> None:
        """Commit what is queued and let running groups end, then close the pool."""
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._groups:
            await asyncio.gather(*self._groups, return_exceptions=True)
        while self._jobs:
            jobs, self._jobs = self._jobs, []
            await self._group(jobs)
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


async def _rollback_if_open(connection: Any) -> None:
    """What a connection back in the pool needs here: no transaction left open. asyncpg's
    default reset also unlocks advisory locks, closes cursors, unlistens and resets settings
    (none of which this path uses) in a round trip on every release."""
    if connection.is_in_transaction():
        await connection.execute("ROLLBACK")


def _transient(error: BaseException) -> bool:
    return getattr(error, "sqlstate", None) in _TRANSIENT_STATES
