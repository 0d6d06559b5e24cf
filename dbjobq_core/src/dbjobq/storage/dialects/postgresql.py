"""PostgreSQL: enqueue and claim straight through asyncpg (the hot path), and LISTEN for wake-ups.

This module imports no driver: the statements and settings are here, the asyncpg side of the hot path
is :mod:`.postgresql_fastpath`, loaded on the first enqueue, claim or LISTEN (asyncpg is needed only then).

Enqueue and claim run for every job and skip SQLAlchemy's execute path (see the fast path's module);
everything else goes through SQLAlchemy. Bulk enqueues use binary ``COPY``. Column lists come from
:mod:`..schema`, so the table keeps one definition.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Double, String, any_, bindparam, literal_column, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from ..database import Database, wrap_driver_errors
from ..records import CLOCK_COLUMNS
from ..schema import NOTIFY_CHANNEL, UNIQUE_KEY_INDEX, jobs
from .clocks import POSTGRESQL_NOW_SQL as NOW_SQL
from .default import Claim, DefaultImpl

if TYPE_CHECKING:
    from ...models import Outcome
    from .postgresql_fastpath import FastPath

logger = logging.getLogger(__name__)


COLUMNS: tuple[str, ...] = tuple(column.name for column in jobs.c)
# What a single INSERT binds: every column but the clock's, then the due time or delay (see records).
BOUND: tuple[str, ...] = tuple(name for name in COLUMNS if name not in CLOCK_COLUMNS)
INSERT_SQL = (
    f"INSERT INTO {jobs.name} ({', '.join(BOUND)}, created_at, updated_at, execute_at) "
    f"VALUES ({', '.join(f'${n}' for n in range(1, len(BOUND) + 1))}, {NOW_SQL}, {NOW_SQL}, "
    f"COALESCE(${len(BOUND) + 1}::float8, {NOW_SQL} + ${len(BOUND) + 2}::float8))"
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
RETURNING {", ".join(COLUMNS)}
"""
#: The claim statement: $1 worker id, $2 claim token, $3 lease timeout (seconds), $4 limit (and $5 queues,
#: or $5 the job types a worker registered; with several filters $5 queues, $6 paused queues to skip, $7
#: job types to take, $8 flow-controlled job types to leave out (see ``sql_flow``), each NULL for none).
#: The filters apply to the rows the claim index yields, in its order: the statement runs with
#: :data:`PLANNER_SETTINGS`.
CLAIM_SQL = _CLAIM_TEMPLATE.format(queue_filter="")
CLAIM_QUEUES_SQL = _CLAIM_TEMPLATE.format(queue_filter="AND queue = ANY($5::varchar[])")
CLAIM_TYPES_SQL = _CLAIM_TEMPLATE.format(queue_filter="AND type = ANY($5::varchar[])")
CLAIM_FILTERED_SQL = _CLAIM_TEMPLATE.format(
    queue_filter="AND ($5::varchar[] IS NULL OR queue = ANY($5::varchar[])) "
    "AND ($6::varchar[] IS NULL OR queue <> ALL($6::varchar[])) "
    "AND ($7::varchar[] IS NULL OR type = ANY($7::varchar[])) "
    "AND ($8::varchar[] IS NULL OR type <> ALL($8::varchar[]))"
)
#: Record one kind of outcome on the running jobs that still hold these claims (fencing): $1 their ids,
#: $2 their claim tokens in the same order, $3 the status, $4 the result, $5 the error (NULL keeps the last
#: one), $6 1 for a snooze (not an attempt) else 0, $7 a retry's delay in seconds (NULL: finished now).
#: The rows are found through the primary key, whatever the planner thinks of the table: the ids are the
#: only condition an index can serve (the status test is written so that none matches it; with statistics
#: of an empty table the planner otherwise walked a whole index holding the status), and the hot path's
#: connections rule sequential scans out (:data:`PLANNER_SETTINGS`).
OUTCOME_SQL = f"""
UPDATE {jobs.name} SET status = $3, updated_at = {NOW_SQL}, lease_token = NULL, lease_expires_at = NULL,
    result = $4, error = COALESCE($5, error), attempts = attempts - $6,
    execute_at = CASE WHEN $7::float8 IS NULL THEN execute_at ELSE {NOW_SQL} + $7::float8 END,
    finished_at = CASE WHEN $7::float8 IS NULL THEN {NOW_SQL} ELSE finished_at END
WHERE id = ANY($1::varchar[]) AND status || '' = 'running'
    AND lease_token = ($2::varchar[])[array_position($1::varchar[], id)]
RETURNING id
"""
#: Payload of the NOTIFY that tells workers a queue was paused or resumed (new jobs notify with '').
QUEUES_PAYLOAD = "queues"
#: Planner settings of the hot path's connections. With its statistics stale (a bulk enqueue into a table
#: not analysed since: autovacuum off, or not yet run) the planner thinks few rows are pending and reads
#: every pending row, through a bitmap scan or the queue index, to sort them for the LIMIT: 7 ms per
#: claim at 20,000 pending, O(pending). Without sorts it walks the claim index in its order and stops at
#: the LIMIT (about 1 ms at any depth). Nothing else these connections run sorts. Without sequential
#: scans an outcome's UPDATE finds its rows through the primary key however small the planner thinks the
#: table is (nothing these connections run needs a scan of the table). Behind PgBouncer a session setting
#: would leak to other clients: there the claim and the outcomes set them for their own transaction.
PLANNER_SETTINGS = {"enable_sort": "off", "enable_seqscan": "off"}
#: The statements that apply :data:`PLANNER_SETTINGS` to one transaction (behind PgBouncer, SQLAlchemy's claims).
SET_LOCAL_PLANNER_SETTINGS = tuple(f"SET LOCAL {name} = {value}" for name, value in PLANNER_SETTINGS.items())
NOW_QUERY = f"SELECT {NOW_SQL}"



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
    server_clock = True

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
            from .postgresql_fastpath import FastPath  # imports asyncpg

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

    def ids_in(self, ids: Sequence[str]) -> ColumnElement[bool]:
        """``id = ANY(:ids)``, one array parameter: the same statement whatever the list's length. (An IN
        list is one statement per length, each prepared and cached by asyncpg on every connection: a
        worker's retention, deleting a different number of rows each pass, filled those caches.)"""
        return jobs.c.id == any_(bindparam(None, list(ids), type_=ARRAY(String)))

    async def record_outcomes(self, db: Database, groups: Sequence[Sequence[Outcome]]) -> set[str] | None:
        """:data:`OUTCOME_SQL`, prepared: one statement per kind of outcome, in one transaction for several."""
        return await self.fastpath(db.engine).record_outcomes(groups)

    async def prepare_claim(self, conn: AsyncConnection) -> None:
        """:data:`PLANNER_SETTINGS` for this transaction only: a claim through SQLAlchemy (flow-limited
        types) walks the claim index in order too."""
        for statement in SET_LOCAL_PLANNER_SETTINGS:
            await conn.execute(text(statement))

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
        from .postgresql_fastpath import CONNECTION_ERRORS, SERVER_ERRORS  # imports asyncpg

        with wrap_driver_errors("Could not LISTEN", driver_errors=SERVER_ERRORS, connection_errors=CONNECTION_ERRORS):
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
