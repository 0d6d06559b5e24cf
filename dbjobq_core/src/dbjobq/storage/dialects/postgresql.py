"""PostgreSQL: enqueue and claim straight through asyncpg (the hot path), and LISTEN for wake-ups.

Imported only when a PostgreSQL URL is opened, so asyncpg is needed only then.

Enqueue and claim run for every job; everything else goes through SQLAlchemy. Through SQLAlchemy's
execute path (pool checkout with isolation-level switching, parameter and result processing, greenlet
hops) one enqueue costs about 430 µs of Python; through asyncpg with its cached prepared statements
about 110 µs, which is most of the difference between 1,200 and 2,300 enqueues per second on one
connection. Bulk enqueues use binary ``COPY``, several times faster than a multi-row INSERT. Their
column lists come from :mod:`..schema`, so the table keeps one definition.

Calls go through one kept connection while it is free (an uncontended call skips pool bookkeeping,
about 45 µs of the 150), and through a small asyncpg pool when calls overlap (opened on first need, up
to the SQLAlchemy pool's size); both connect with the engine's URL and ``connect_args``. When the
engine pools nothing (``NullPool``, e.g. the Django adapter serving many event loops), neither does
the path: each call opens and closes its own connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

import asyncpg
from sqlalchemy import ColumnElement, Double, literal_column, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from ..database import Database, wrap_driver_errors
from ..records import CLOCK_COLUMNS, complete_row
from ..schema import NOTIFY_CHANNEL, UNIQUE_KEY_INDEX, jobs
from .clocks import POSTGRESQL_NOW_SQL as NOW_SQL
from .default import Claim, DefaultImpl

logger = logging.getLogger(__name__)


_COLUMNS: tuple[str, ...] = tuple(column.name for column in jobs.c)
# What a single INSERT binds: every column but the clock's, then the due time or delay (see records).
_BOUND: tuple[str, ...] = tuple(name for name in _COLUMNS if name not in CLOCK_COLUMNS)
_INSERT_SQL = (
    f"INSERT INTO {jobs.name} ({', '.join(_BOUND)}, created_at, updated_at, execute_at) "
    f"VALUES ({', '.join(f'${n}' for n in range(1, len(_BOUND) + 1))}, {NOW_SQL}, {NOW_SQL}, "
    f"COALESCE(${len(_BOUND) + 1}::float8, {NOW_SQL} + ${len(_BOUND) + 2}::float8))"
)
# Claim: lock the first due pending rows in the claim index's order, skipping rows other claimers
# hold, and mark them running in the same statement. The ids go through an array (= ANY(ARRAY(…))),
# so the rows are updated through the primary key whatever the planner thinks of the table's size
# (with IN (…) it hash-joined a scan of the whole table). 'pending' and 'running' are literals so the
# generic plan of the prepared statement can use the partial index (WHERE status = 'pending').
# statement_timestamp() is stable, so the generic plan still uses the index for execute_at <= now.
_CLAIM_TEMPLATE = f"""
UPDATE {jobs.name} SET status = 'running', attempts = attempts + 1, worker_id = $1, lease_token = $2,
    lease_expires_at = {NOW_SQL} + $3, started_at = {NOW_SQL}, updated_at = {NOW_SQL}
WHERE id = ANY(ARRAY(
    SELECT id FROM {jobs.name}
    WHERE status = 'pending' AND execute_at <= {NOW_SQL} {{queue_filter}}
    ORDER BY priority DESC, execute_at, id
    LIMIT $4
    FOR UPDATE SKIP LOCKED
))
RETURNING {", ".join(_COLUMNS)}
"""
#: The claim statement: $1 worker id, $2 claim token, $3 lease timeout (seconds), $4 limit (and $5 queues,
#: or $5 the job types a worker registered; with several filters $5 queues, $6 paused queues to skip, $7
#: job types to take, $8 flow-controlled job types to leave out (see ``sql_flow``), each NULL for none).
#: The filters apply to the rows the claim index yields, in its order: the statement runs with
#: :data:`CLAIM_SETTINGS`.
CLAIM_SQL = _CLAIM_TEMPLATE.format(queue_filter="")
CLAIM_QUEUES_SQL = _CLAIM_TEMPLATE.format(queue_filter="AND queue = ANY($5::varchar[])")
CLAIM_TYPES_SQL = _CLAIM_TEMPLATE.format(queue_filter="AND type = ANY($5::varchar[])")
CLAIM_FILTERED_SQL = _CLAIM_TEMPLATE.format(
    queue_filter="AND ($5::varchar[] IS NULL OR queue = ANY($5::varchar[])) "
    "AND ($6::varchar[] IS NULL OR queue <> ALL($6::varchar[])) "
    "AND ($7::varchar[] IS NULL OR type = ANY($7::varchar[])) "
    "AND ($8::varchar[] IS NULL OR type <> ALL($8::varchar[]))"
)
#: Payload of the NOTIFY that tells workers a queue was paused or resumed (new jobs notify with '').
QUEUES_PAYLOAD = "queues"
#: Planner settings of the hot path's connections. With its statistics stale (a bulk enqueue into a table
#: not analysed since: autovacuum off, or not yet run) the planner thinks few rows are pending and reads
#: every pending row, through a bitmap scan or the queue index, to sort them for the LIMIT: 7 ms per
#: claim at 20,000 pending, O(pending). Without sorts it walks the claim index in its order and stops at
#: the LIMIT (about 1 ms at any depth). Nothing else these connections run sorts. Behind PgBouncer a
#: session setting would leak to other clients: there the claim sets it for its own transaction.
CLAIM_SETTINGS = {"enable_sort": "off"}
_NOW_QUERY = f"SELECT {NOW_SQL}"

# SQLAlchemy's asyncpg adapter takes these connect arguments itself; asyncpg.connect() does not.
_ADAPTER_ONLY_ARGS = ("prepared_statement_cache_size", "prepared_statement_name_func", "async_creator_fn")
# asyncpg's errors, wrapped like SQLAlchemy's: a server error, or a lost connection.
_SERVER_ERRORS = (asyncpg.PostgresError,)
_CONNECTION_ERRORS = (asyncpg.InterfaceError, asyncpg.InternalClientError)


def _unnamed() -> str:
    """SQLAlchemy's name for each statement it prepares behind PgBouncer: "" is PostgreSQL's unnamed
    statement, which the next statement replaces, so none outlives the transaction it ran in."""
    return ""


#: Connect arguments behind PgBouncer in transaction pooling, where consecutive transactions of one
#: client may run on different server connections: asyncpg and SQLAlchemy cache no prepared statement,
#: and SQLAlchemy's own prepares are unnamed (SQLAlchemy's asyncpg documentation, "Prepared Statement
#: Name with PGBouncer"; asyncpg's FAQ on prepared statement errors).
PGBOUNCER_CONNECT_ARGS: dict[str, Any] = {
    "statement_cache_size": 0,
    "prepared_statement_cache_size": 0,
    "prepared_statement_name_func": _unnamed,
}


class PostgresqlImpl(DefaultImpl):
    """PostgreSQL through asyncpg: the hot path for enqueue and claim, LISTEN/NOTIFY for wake-ups.

    With ``pgbouncer`` (transaction pooling) nothing relies on a session: statements are unnamed, bulk
    inserts are INSERTs (asyncpg's COPY prepares a named statement), and LISTEN goes over
    ``listen_url``, a direct connection, or not at all (workers poll).
    """

    name = "postgresql"
    supports_notifications = True

    def __init__(
        self,
        url: URL,
        engine_options: Mapping[str, Any],
        *,
        pgbouncer: bool = False,
        listen_url: URL | None = None,
    ) -> None:
        super().__init__(url, engine_options)
        self.pgbouncer = pgbouncer
        self.listen_url = listen_url
        if pgbouncer:  # the caller's connect_args win, key by key
            self.engine_options["connect_args"] = {
                **PGBOUNCER_CONNECT_ARGS,
                **self.engine_options.get("connect_args", {}),
            }
        self._fastpath: FastPath | None = None
        self._listen_engine: AsyncEngine | None = None
        self._told_polling = False

    def fastpath(self, engine: AsyncEngine) -> FastPath:
        """The asyncpg hot path, connecting as ``engine`` does (created on first use)."""
        if self._fastpath is None:
            _args, connect_kwargs = engine.dialect.create_connect_args(engine.url)
            connect_kwargs.update(self.engine_options.get("connect_args", {}))
            self._fastpath = FastPath(
                connect_kwargs,
                max_size=int(self.engine_options.get("pool_size", 10)),
                pooled=not isinstance(engine.sync_engine.pool, NullPool),
                pgbouncer=self.pgbouncer,
            )
        return self._fastpath

    def now(self) -> ColumnElement[float]:
        """The server's clock (see :data:`NOW_SQL`)."""
        return literal_column(NOW_SQL, Double)

    async def insert_jobs(self, db: Database, rows: Sequence[Mapping[str, Any]]) -> None:
        """A prepared INSERT for one row, binary COPY for several."""
        await self.fastpath(db.engine).insert(rows)

    async def claim(self, db: Database, claim: Claim) -> Sequence[Mapping[Any, Any]]:
        """``UPDATE … WHERE id = ANY(ARRAY(SELECT … FOR UPDATE SKIP LOCKED)) RETURNING``, prepared, autocommitted."""
        return await self.fastpath(db.engine).claim(claim)

    async def prepare_claim(self, conn: AsyncConnection) -> None:
        """:data:`CLAIM_SETTINGS` for this transaction only: a claim through SQLAlchemy (flow-limited
        types) walks the claim index in order too."""
        for name, value in CLAIM_SETTINGS.items():
            await conn.execute(text(f"SET LOCAL {name} = {value}"))

    async def insert_unique(self, conn: Any, row: Mapping[str, Any]) -> bool:
        """``INSERT … ON CONFLICT DO NOTHING`` against the partial unique index: no savepoint needed."""
        stmt = (
            pg_insert(jobs)
            .values(**row)
            .on_conflict_do_nothing(
                index_elements=[jobs.c.unique_key], index_where=UNIQUE_KEY_INDEX.dialect_options["postgresql"]["where"]
            )
        )
        return bool((await conn.execute(stmt)).rowcount)

    async def listen(
        self, engine: AsyncEngine, on_notify: Callable[[], None], on_queues: Callable[[], None] | None = None
    ) -> Listener | None:
        """LISTEN on a connection of its own: from ``engine``, or over ``listen_url`` behind PgBouncer;
        ``None`` behind PgBouncer without ``listen_url`` (logged once: workers poll)."""
        if self.pgbouncer:
            if self.listen_url is None:
                if not self._told_polling:
                    self._told_polling = True
                    logger.warning(
                        "pgbouncer=True without listen_url: LISTEN cannot pass a transaction pooler, so "
                        "workers poll for new jobs every poll_interval. Give listen_url, a direct "
                        "connection to the same database, to wake them within milliseconds",
                        extra={"action": "listen_polling"},
                    )
                return None
            if self._listen_engine is None:
                self._listen_engine = create_async_engine(self.listen_url, poolclass=NullPool)
            engine = self._listen_engine
        with wrap_driver_errors(
            "Could not LISTEN", driver_errors=_SERVER_ERRORS, connection_errors=_CONNECTION_ERRORS
        ):
            return await Listener.open(engine, on_notify, on_queues)

    async def notify_queues(self, conn: AsyncConnection) -> None:
        """NOTIFY on the jobs channel with the queues payload (delivered when the transaction commits)."""
        await conn.execute(
            text("SELECT pg_notify(:channel, :payload)"), {"channel": NOTIFY_CHANNEL, "payload": QUEUES_PAYLOAD}
        )

    async def close(self) -> None:
        """Close the hot path's connections (and the direct LISTEN engine)."""
        fastpath, self._fastpath = self._fastpath, None
        if fastpath is not None:
            await fastpath.close()
        listen_engine, self._listen_engine = self._listen_engine, None
        if listen_engine is not None:
            await listen_engine.dispose()


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
            self._connect_kwargs["server_settings"] = {**CLAIM_SETTINGS, **settings}
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
        with wrap_driver_errors(driver_errors=_SERVER_ERRORS, connection_errors=_CONNECTION_ERRORS):
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

    async def insert(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert new jobs (:func:`..records.job_insert_params`): one prepared INSERT stamped by the server's
        clock, or, for several, one COPY of rows stamped with the server's now read in its transaction."""
        async with self._connection() as connection:
            if len(rows) == 1:
                row = rows[0]
                await connection.execute(_INSERT_SQL, *(row[name] for name in _BOUND), row["due_at"], row["due_delay"])
                return
            async with connection.transaction():
                if self._pgbouncer:  # COPY would prepare a named statement
                    args = [(*(row[name] for name in _BOUND), row["due_at"], row["due_delay"]) for row in rows]
                    await connection.executemany(_INSERT_SQL, args)
                    return
                # COPY fires the statement-level NOTIFY trigger like an INSERT does. It takes values only,
                # so the server's now is read first (one round trip per batch, none per job).
                now = float(await connection.fetchval(_NOW_QUERY))
                stamped = (complete_row(row, now) for row in rows)  # once per row, not once per column
                records = [tuple(map(row.__getitem__, _COLUMNS)) for row in stamped]
                await connection.copy_records_to_table(jobs.name, records=records, columns=_COLUMNS)

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
        async with self._connection() as connection:
            if not self._pgbouncer:
                return list(await connection.fetch(sql, *args))
            async with connection.transaction():  # the settings for this transaction only
                for name, value in CLAIM_SETTINGS.items():
                    await connection.execute(f"SET LOCAL {name} = {value}")
                return list(await connection.fetch(sql, *args))

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


class Listener:
    """A live LISTEN on :data:`NOTIFY_CHANNEL`; ``alive`` turns False if the connection is lost."""

    def __init__(self, connection: AsyncConnection, driver_connection: Any, callback: Callable[..., None]) -> None:
        self._connection = connection
        self._driver = driver_connection
        self._callback = callback

    @classmethod
    async def open(
        cls, engine: AsyncEngine, on_notify: Callable[[], None], on_queues: Callable[[], None] | None = None
    ) -> Listener:
        """Check a connection out of ``engine`` and LISTEN on it."""
        connection = await engine.connect()
        try:
            raw = await connection.get_raw_connection()
            driver: Any = raw.driver_connection

            def callback(_connection: Any, _pid: int, _channel: str, payload: str) -> None:
                if payload == QUEUES_PAYLOAD and on_queues is not None:
                    on_queues()
                on_notify()

            await driver.add_listener(NOTIFY_CHANNEL, callback)
        except BaseException:
            await connection.close()
            raise
        logger.debug("Listening on %s", NOTIFY_CHANNEL, extra={"action": "listen"})
        return cls(connection, driver, callback)

    @property
    def alive(self) -> bool:
        """False once the server closed the connection."""
        return not self._driver.is_closed()

    async def close(self) -> None:
        """Stop listening and give the connection back (discarding it if it broke)."""
        try:
            if self.alive:
                await self._driver.remove_listener(NOTIFY_CHANNEL, self._callback)
        except Exception:  # the connection is being thrown away anyway
            logger.debug("UNLISTEN failed", exc_info=True)
            await self._connection.invalidate()
        await self._connection.close()
