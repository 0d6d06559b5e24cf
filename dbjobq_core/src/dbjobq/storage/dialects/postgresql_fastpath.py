"""PostgreSQL's hot path through plain asyncpg connections: enqueue and claim (see :mod:`.postgresql`,
which holds the statements and loads this module on first use, so that asyncpg is imported only then).

Through SQLAlchemy's execute path (pool checkout with isolation-level switching, parameter and result
processing, greenlet hops) one enqueue costs about 430 µs of Python; through asyncpg with its cached
prepared statements about 110 µs. Calls go through one kept connection while it is free (an uncontended
call skips pool bookkeeping), and through a small asyncpg pool when calls overlap; when the engine pools
nothing (``NullPool``), each call opens and closes its own connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import operator
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import asyncpg

from ...models import JobStatus, Outcome
from ..database import wrap_driver_errors
from ..records import CLOCK_COLUMNS
from ..schema import jobs
from .default import Claim
from .postgresql import (
    BOUND,
    CLAIM_FILTERED_SQL,
    CLAIM_QUEUES_SQL,
    CLAIM_SQL,
    CLAIM_TYPES_SQL,
    COLUMNS,
    INSERT_SQL,
    NOW_QUERY,
    OUTCOME_SQL,
    PLANNER_SETTINGS,
    SET_LOCAL_PLANNER_SETTINGS,
)

logger = logging.getLogger(__name__)

# SQLAlchemy's asyncpg adapter takes these connect arguments itself; asyncpg.connect() does not.
_ADAPTER_ONLY_ARGS = ("prepared_statement_cache_size", "prepared_statement_name_func", "async_creator_fn")
#: asyncpg's errors, wrapped like SQLAlchemy's: a server error, or a lost connection.
SERVER_ERRORS = (asyncpg.PostgresError,)
CONNECTION_ERRORS = (asyncpg.InterfaceError, asyncpg.InternalClientError)
# Where the clock's columns sit in a COPY record (the rest come from the row as they are).
_CREATED_AT, _UPDATED_AT, _EXECUTE_AT = (COLUMNS.index(name) for name in CLOCK_COLUMNS)
#: Outcomes per UPDATE (the ids and tokens travel as two arrays).
OUTCOME_BATCH_SIZE = 1000
#: A row's INSERT_SQL arguments, in order: the bound columns, then the due time and the delay.
_insert_args = operator.itemgetter(*BOUND, "due_at", "due_delay")


async def _keep_session(_connection: asyncpg.Connection) -> None:
    """Pool reset hook: nothing to reset, the fast path leaves no session state behind.

    (asyncpg's default reset costs a round trip per release: UNLISTEN, RESET ALL, CLOSE ALL…)
    """


class FastPath:
    """Enqueue and claim on PostgreSQL through plain asyncpg connections."""

    def __init__(
        self, connect_kwargs: Mapping[str, Any], *, max_size: int, pooled: bool = True, pgbouncer: bool = False
    ) -> None:
        self._pgbouncer = pgbouncer
        self._connect_kwargs = {k: v for k, v in connect_kwargs.items() if k not in _ADAPTER_ONLY_ARGS}
        if not pgbouncer:  # a server connection of our own: the claim's planner settings are set at connect
            settings = self._connect_kwargs.get("server_settings") or {}
            self._connect_kwargs["server_settings"] = {**PLANNER_SETTINGS, **settings}
        self._max_size = max(1, max_size)
        self._pooled = pooled
        self._pool: asyncpg.Pool | None = None
        self._opening = asyncio.Lock()
        self._kept: asyncpg.Connection | None = None
        self._kept_lock = asyncio.Lock()

    async def _get_pool(self) -> asyncpg.Pool:
        if self._pool is None:
            async with self._opening:
                if self._pool is None:
                    self._pool = await asyncpg.create_pool(
                        min_size=0, max_size=self._max_size, reset=_keep_session, **self._connect_kwargs
                    )
        return self._pool

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A connection (pooled unless the engine pools nothing), with driver errors wrapped in StorageError."""
        with wrap_driver_errors(driver_errors=SERVER_ERRORS, connection_errors=CONNECTION_ERRORS):
            if self._pooled and not self._kept_lock.locked():
                async with self._kept_lock:
                    if self._kept is None or self._kept.is_closed():
                        self._kept = await asyncpg.connect(**self._connect_kwargs)
                    yield self._kept
            elif self._pooled:
                pool = await self._get_pool()
                async with pool.acquire() as connection:
                    yield connection
            else:
                connection = await asyncpg.connect(**self._connect_kwargs)
                try:
                    yield connection
                finally:
                    await connection.close()

    @contextlib.asynccontextmanager
    async def _planned(self, connection: asyncpg.Connection, *, transaction: bool = False) -> AsyncIterator[None]:
        """Statements run under :data:`PLANNER_SETTINGS` (set at connect), in a transaction if asked. Behind
        PgBouncer, where a session setting would leak to other clients, always in a transaction that sets
        them with ``SET LOCAL``."""
        if not (transaction or self._pgbouncer):
            yield
            return
        async with connection.transaction():
            if self._pgbouncer:
                for statement in SET_LOCAL_PLANNER_SETTINGS:
                    await connection.execute(statement)
            yield

    async def insert(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert new jobs (:func:`..records.job_insert_params`): one prepared INSERT stamped by the server's
        clock, or, for several, one COPY of rows stamped with the server's now read in its transaction."""
        async with self._connection() as connection:
            if len(rows) == 1:
                await connection.execute(INSERT_SQL, *_insert_args(rows[0]))
                return
            async with connection.transaction():
                if self._pgbouncer:  # COPY would prepare a named statement
                    args = [_insert_args(row) for row in rows]
                    await connection.executemany(INSERT_SQL, args)
                    return
                # COPY fires the statement-level NOTIFY trigger like an INSERT does. It takes values only,
                # so the server's now is read first (one round trip per batch, none per job).
                now = float(await connection.fetchval(NOW_QUERY))
                records = [_copy_record(row, now) for row in rows]
                await connection.copy_records_to_table(jobs.name, records=records, columns=COLUMNS)

    async def claim(self, claim: Claim) -> list[asyncpg.Record]:
        """Claim up to ``claim.limit`` due jobs in one autocommitted statement; the claimed rows."""
        args: list[Any] = [claim.worker_id, claim.token, claim.lease_timeout, claim.limit]
        sql = CLAIM_SQL
        types = None if claim.job_types is None else list(claim.job_types)
        if claim.exclude or claim.exclude_types or (claim.queues and types is not None):
            sql = CLAIM_FILTERED_SQL
            args += [
                list(claim.queues) if claim.queues else None,
                list(claim.exclude) if claim.exclude else None,
                types,
                list(claim.exclude_types) if claim.exclude_types else None,
            ]
        elif claim.queues:
            sql = CLAIM_QUEUES_SQL
            args.append(list(claim.queues))
        elif types is not None:
            sql = CLAIM_TYPES_SQL
            args.append(types)
        async with self._connection() as connection, self._planned(connection):
            return list(await connection.fetch(sql, *args))

    async def record_outcomes(self, groups: Sequence[Sequence[Outcome]]) -> set[str]:
        """Record each group (one kind of outcome) with :data:`OUTCOME_SQL`; one statement autocommitted,
        several in one transaction. The ids of the jobs that still held their claim."""
        statements = [
            (_outcome_args(group[0]), group[start : start + OUTCOME_BATCH_SIZE])
            for group in groups
            for start in range(0, len(group), OUTCOME_BATCH_SIZE)
        ]
        accepted: set[str] = set()
        async with self._connection() as connection, self._planned(connection, transaction=len(statements) > 1):
            for args, members in statements:
                ids = [outcome.job_id for outcome in members]
                tokens = [outcome.lease_token for outcome in members]
                rows = await connection.fetch(OUTCOME_SQL, ids, tokens, *args)
                accepted.update(row[0] for row in rows)
        return accepted

    async def close(self) -> None:
        """Close the connections (waits for ones in use, then terminates stragglers)."""
        kept, self._kept = self._kept, None
        pool, self._pool = self._pool, None
        for resource in (kept, pool):
            if resource is None:
                continue
            try:
                await asyncio.wait_for(resource.close(), timeout=10)
            except Exception:  # a timeout, or a connection already broken
                logger.debug("Closing %r failed; terminating it", resource, exc_info=True)
                resource.terminate()


def _outcome_args(outcome: Outcome) -> tuple[Any, ...]:
    """:data:`OUTCOME_SQL`'s $3 to $7 for one kind of outcome (see :func:`..records.outcome_values`)."""
    retry_in = (outcome.retry_in or 0.0) if outcome.status is JobStatus.PENDING else None
    return outcome.status.value, outcome.result, outcome.error, 1 if outcome.snoozed else 0, retry_in


def _copy_record(row: Mapping[str, Any], now: float) -> list[Any]:
    """A COPY record of ``row`` (:func:`..records.job_insert_params`) stamped with the server's ``now``, as
    :func:`..records.complete_row` stamps it, without copying the row (the hot path of a bulk enqueue)."""
    record = list(map(row.get, COLUMNS))
    due_at = row["due_at"]
    record[_CREATED_AT] = record[_UPDATED_AT] = now
    record[_EXECUTE_AT] = due_at if due_at is not None else now + row["due_delay"]
    return record
