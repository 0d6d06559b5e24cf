"""SQLAlchemyStorage: the job store on SQLite, PostgreSQL and MySQL/MariaDB through async SQLAlchemy."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import socket
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    Integer,
    and_,
    bindparam,
    cast,
    delete,
    event,
    func,
    insert,
    literal_column,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool
from sqlalchemy.sql.elements import BindParameter, ColumnClause, ColumnElement

from .. import errors, scheduling
from ..models import FINISHED_STATUSES, Job, JobStatus, NewJob, Outcome, QueueStats, Schedule
from ..redaction import mask_url
from ..serialization import dumps_payload
from . import records
from .base import BaseStorage
from .listener import Subscription
from .postgres_fastpath import PostgresFastPath
from .schema import QUEUE_STATUS_INDEX, SCHEMA_VERSION, jobs, meta, metadata, schedules, workers
from .urls import check_sqlite_directory, engine_options, is_memory_sqlite, parse_url

logger = logging.getLogger(__name__)

#: Rows per INSERT when enqueueing in bulk (keeps statements under every driver's parameter limit).
INSERT_BATCH_SIZE = 1000
#: Characters of a job's error that a page of job summaries carries.
SUMMARY_ERROR_CHARS = 300
#: Claims per UPDATE when recording outcomes or releasing jobs (two parameters each; same reason).
CLAIM_BATCH_SIZE = 1000

_PENDING = JobStatus.PENDING.value
_RUNNING = JobStatus.RUNNING.value
# Inlined as SQL literals, not bound parameters, where a partial index is meant to serve the query: a
# prepared statement's generic plan (PostgreSQL) or SQLite's planner cannot match `status = $1` with an
# index's `WHERE status = 'pending'`, and would scan every row of that status index instead.
_PENDING_SQL: ColumnClause[str] = literal_column(f"'{_PENDING}'")
_RUNNING_SQL: ColumnClause[str] = literal_column(f"'{_RUNNING}'")


class SQLAlchemyStorage(BaseStorage):
    """A job store on any database SQLAlchemy reaches with an async driver.

    ``url`` is ``sqlite+aiosqlite:///path`` (or ``:memory:``), ``postgresql+asyncpg://…`` or
    ``mysql+aiomysql://…``; ``engine_options`` go to :func:`sqlalchemy.ext.asyncio.create_async_engine`.
    Call :meth:`initialize` first (or use ``async with``), :meth:`close` last.
    """

    def __init__(self, url: str | URL, **engine_options_: Any) -> None:
        self.url: URL = parse_url(url)
        self.dialect: str = "mysql" if self.url.get_backend_name() == "mariadb" else self.url.get_backend_name()
        self._engine_options = engine_options(self.url, **engine_options_)
        self._engine: AsyncEngine | None = None
        self._autocommit_engine: AsyncEngine | None = None
        self._fastpath: PostgresFastPath | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"SQLAlchemyStorage({mask_url(self.url)!r})"

    # -- life cycle ---------------------------------------------------------------------------
    @property
    def engine(self) -> AsyncEngine:
        """The async engine; raises until :meth:`initialize` ran and after :meth:`close`."""
        if self._closed:
            raise errors.StorageClosedError()
        if self._engine is None:
            raise errors.StorageNotInitializedError()
        return self._engine

    @property
    def supports_notifications(self) -> bool:
        """PostgreSQL pushes a NOTIFY for each committed enqueue."""
        return self.dialect == "postgresql"

    async def initialize(self) -> None:
        """Connect and create the tables if they are missing. Idempotent; safe when processes race."""
        if self._closed:
            raise errors.StorageClosedError()
        if self._engine is None:
            self._engine = create_async_engine(self.url, **self._engine_options)
            if self.dialect == "sqlite":
                self._configure_sqlite(self._engine, memory=is_memory_sqlite(self.url))
            # Same pool, autocommit: a single-statement write costs one round trip, not BEGIN+it+COMMIT.
            self._autocommit_engine = self._engine.execution_options(isolation_level="AUTOCOMMIT")
        check_sqlite_directory(self.url)
        for attempt in range(5):
            try:
                conn = await self.engine.connect()
            except (DBAPIError, OSError) as exc:
                raise errors.StorageError(f"Could not connect to {self!r}: {exc}") from exc
            try:
                async with conn.begin():
                    await conn.run_sync(metadata.create_all, checkfirst=True)
                break
            except (OperationalError, ProgrammingError, IntegrityError) as exc:
                # Another process created the same table between our check and our CREATE.
                if attempt == 4:
                    raise errors.StorageError(f"Could not create the DBJobQ tables: {exc}") from exc
                await asyncio.sleep(0.05 * (attempt + 1))
            except (DBAPIError, OSError) as exc:
                raise errors.StorageError(f"Database error on {self!r}: {exc}") from exc
            finally:
                await conn.close()
        await self._check_schema_version()

    def _postgres_fastpath(self) -> PostgresFastPath:
        """PostgreSQL's asyncpg hot path for enqueue and claim, connecting as the engine does."""
        engine = self.engine  # raises before initialize() and after close()
        if self._fastpath is None:
            _args, connect_kwargs = engine.dialect.create_connect_args(engine.url)
            connect_kwargs.update(self._engine_options.get("connect_args", {}))
            self._fastpath = PostgresFastPath(
                connect_kwargs,
                max_size=int(self._engine_options.get("pool_size", 10)),
                pooled=not isinstance(engine.sync_engine.pool, NullPool),
            )
        return self._fastpath

    @staticmethod
    def _configure_sqlite(engine: AsyncEngine, *, memory: bool) -> None:
        # WAL lets readers work beside the single writer; the busy timeout makes several processes
        # queue for the write lock instead of failing; NORMAL sync is durable across process crashes.
        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            if not memory:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

    async def _check_schema_version(self) -> None:
        async with self._transaction() as conn:
            value = (await conn.execute(select(meta.c.value).where(meta.c.key == "schema_version"))).scalar()
            if value is None:
                with contextlib.suppress(IntegrityError):
                    async with conn.begin_nested():
                        await conn.execute(insert(meta).values(key="schema_version", value=str(SCHEMA_VERSION)))
            elif int(value) > SCHEMA_VERSION:
                raise errors.StorageError(
                    f"The database has DBJobQ schema version {value}, newer than this dbjobq "
                    f"({SCHEMA_VERSION}): upgrade dbjobq"
                )
            elif int(value) < 2:
                # 1 -> 2 adds the (queue, status, execute_at) index. checkfirst: a process that raced us
                # may have built it already (and Django's migration 0003 builds the same one).
                await conn.run_sync(QUEUE_STATUS_INDEX.create, checkfirst=True)
                await conn.execute(
                    update(meta).where(meta.c.key == "schema_version", meta.c.value == value).values(value="2")
                )

    async def close(self) -> None:
        """Dispose of the engine. The storage refuses use afterwards."""
        if self._fastpath is not None:
            await self._fastpath.close()
        if self._engine is not None:
            await self._engine.dispose()
        self._fastpath = None
        self._engine = None
        self._autocommit_engine = None
        self._closed = True

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncConnection]:
        """A transaction on a pooled connection, with driver errors wrapped in StorageError."""
        engine = self.engine
        try:
            async with engine.begin() as conn:
                yield conn
        except DBAPIError as exc:
            raise errors.StorageError(f"Database error: {exc.orig!r}") from exc
        except OSError as exc:
            raise errors.StorageError(f"Database connection error: {exc!r}") from exc

    @contextlib.asynccontextmanager
    async def _single_statement(self) -> AsyncIterator[AsyncConnection]:
        """A pooled connection in autocommit mode, for one self-contained statement (errors wrapped)."""
        engine = self.engine  # raises if closed or not initialised
        if self._autocommit_engine is None:  # subclasses may open the engine lazily
            self._autocommit_engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        try:
            async with self._autocommit_engine.connect() as conn:
                yield conn
        except DBAPIError as exc:
            raise errors.StorageError(f"Database error: {exc.orig!r}") from exc
        except OSError as exc:
            raise errors.StorageError(f"Database connection error: {exc!r}") from exc

    # -- jobs ---------------------------------------------------------------------------------
    async def enqueue(
        self,
        job_type: str,
        data: dict[str, Any] | str | None = None,
        *,
        queue: str = "default",
        priority: int = 0,
        max_retries: int = 0,
        execute_at: float | None = None,
        connection: Any = None,
    ) -> str:
        """Insert one pending job and return its id (inside ``connection``'s transaction if given)."""
        new = NewJob(job_type, dumps_payload(data), queue, priority, max_retries, execute_at)
        return (await self.enqueue_many([new], connection=connection))[0]

    async def enqueue_many(self, jobs_: Sequence[NewJob], *, connection: Any = None) -> list[str]:
        """Insert many jobs, one INSERT round trip per :data:`INSERT_BATCH_SIZE` rows; ids in order."""
        now = time.time()
        rows = [new_job_row(new, now) for new in jobs_]
        if not rows:
            return []
        if connection is not None:
            # The caller's AsyncConnection or AsyncSession: the jobs commit or roll back with it.
            for start in range(0, len(rows), INSERT_BATCH_SIZE):
                await connection.execute(insert(jobs), rows[start : start + INSERT_BATCH_SIZE])
        elif self.dialect == "postgresql":  # a prepared INSERT, or COPY for several rows
            await self._postgres_fastpath().insert(rows)
        elif len(rows) == 1 and self.dialect != "mysql":
            # One row is one statement: autocommit spares the BEGIN and COMMIT round trips.
            async with self._single_statement() as conn:
                await conn.execute(insert(jobs), rows[0])
        else:
            async with self._transaction() as conn:
                for start in range(0, len(rows), INSERT_BATCH_SIZE):
                    await conn.execute(insert(jobs), rows[start : start + INSERT_BATCH_SIZE])
        return [row["id"] for row in rows]

    async def get_job(self, job_id: str) -> Job | None:
        """The job with that id, or ``None``."""
        async with self._transaction() as conn:
            row = (await conn.execute(select(jobs).where(jobs.c.id == job_id))).mappings().first()
        return None if row is None else records.job_from_row(row)

    async def list_jobs(
        self,
        status: JobStatus | str | None = None,
        limit: int | None = None,
        offset: int = 0,
        queue: str | None = None,
        job_type: str | None = None,
    ) -> list[Job]:
        """Jobs in creation order (by id: time-ordered and the primary key, so a page reads an index, not a
        sort of the table), optionally filtered by status, queue and type."""
        if limit is not None and limit < 0:
            raise ValueError("limit must be >= 0")
        if offset < 0:
            raise ValueError("offset must be >= 0")
        stmt = select(jobs).order_by(jobs.c.id).offset(offset or None).limit(limit)
        if status is not None:
            stmt = stmt.where(jobs.c.status == JobStatus.parse(status).value)
        if queue is not None:
            stmt = stmt.where(jobs.c.queue == queue)
        if job_type is not None:
            stmt = stmt.where(jobs.c.type == job_type)
        async with self._transaction() as conn:
            rows = (await conn.execute(stmt)).mappings().all()
        return [records.job_from_row(row) for row in rows]

    async def count_jobs(self) -> dict[tuple[str, str], int]:
        """Job counts keyed by (queue, status)."""
        stmt = select(jobs.c.queue, jobs.c.status, func.count()).group_by(jobs.c.queue, jobs.c.status)
        async with self._transaction() as conn:
            return {(q, s): n for q, s, n in (await conn.execute(stmt)).all()}

    async def oldest_pending(self) -> float | None:
        """Epoch seconds at which the longest-waiting due pending job became due, or ``None``."""
        stmt = select(func.min(jobs.c.execute_at)).where(
            jobs.c.status == _PENDING, jobs.c.execute_at <= time.time()
        )
        async with self._transaction() as conn:
            oldest = (await conn.execute(stmt)).scalar()
        return None if oldest is None else float(oldest)

    async def seconds_until_due(self, queues: Sequence[str] | None = None) -> float | None:
        """Seconds until the soonest pending job (in ``queues``) falls due (0 or less: due now), or ``None``."""
        stmt = select(func.min(jobs.c.execute_at)).where(jobs.c.status == _PENDING_SQL)
        if queues:
            stmt = stmt.where(jobs.c.queue.in_(list(queues)))
        async with self._transaction() as conn:
            due = (await conn.execute(stmt)).scalar()
        return None if due is None else float(due) - time.time()

    async def count_finished_since(self, since: float) -> int:
        """How many jobs finished (completed or failed) at or after ``since``."""
        stmt = select(func.count()).where(
            jobs.c.status.in_([JobStatus.COMPLETED.value, JobStatus.FAILED.value]), jobs.c.finished_at >= since
        )
        async with self._transaction() as conn:
            return int((await conn.execute(stmt)).scalar() or 0)

    async def claim_jobs(
        self, limit: int, *, worker_id: str, lease_timeout: float, queues: Sequence[str] | None = None
    ) -> list[Job]:
        """Claim up to ``limit`` due jobs in one round trip (two statements in one transaction on MySQL)."""
        if limit <= 0:
            return []
        now = time.time()
        token = records.new_token()
        rows: Sequence[Mapping[Any, Any]]
        if self.dialect == "postgresql":  # UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING
            rows = await self._postgres_fastpath().claim(
                limit, now=now, token=token, worker_id=worker_id, lease_expires_at=now + lease_timeout, queues=queues
            )
        else:
            claimed_values: dict[str, Any] = {
                "status": _RUNNING,
                "worker_id": worker_id,
                "lease_token": token,
                "lease_expires_at": now + lease_timeout,
                "started_at": now,
                "updated_at": now,
            }
            if self.dialect == "mysql":
                rows = await self._claim_mysql(limit, now, queues, claimed_values)
            else:
                # SQLite has a single writer, so one UPDATE … RETURNING is atomic as it stands (autocommit).
                stmt = (
                    update(jobs)
                    .where(jobs.c.id.in_(_sqlite_claim_ids(limit, now, queues)))
                    .values(attempts=jobs.c.attempts + 1, **claimed_values)
                    .returning(*jobs.c)
                )
                async with self._single_statement() as conn:
                    rows = (await conn.execute(stmt)).mappings().all()
        claimed = [records.job_from_row(row) for row in rows]
        claimed.sort(key=lambda j: (-j.priority, j.execute_at or 0, j.id))
        return claimed

    async def _claim_mysql(
        self, limit: int, now: float, queues: Sequence[str] | None, claimed_values: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """MySQL/MariaDB have no UPDATE … RETURNING and refuse LIMIT in an IN subquery: lock the rows
        with SKIP LOCKED, then update them, in one transaction."""
        due: ColumnElement[bool] = and_(jobs.c.status == _PENDING_SQL, jobs.c.execute_at <= now)
        if queues:
            due = and_(due, jobs.c.queue.in_(list(queues)))
        order = (jobs.c.priority.desc(), jobs.c.execute_at, jobs.c.id)
        async with self._transaction() as conn:
            locked = select(jobs).where(due).order_by(*order).limit(limit).with_for_update(skip_locked=True)
            rows = [dict(r) for r in (await conn.execute(locked)).mappings().all()]
            if rows:
                await conn.execute(
                    update(jobs)
                    .where(jobs.c.id.in_([r["id"] for r in rows]))
                    .values(attempts=jobs.c.attempts + 1, **claimed_values)
                )
        for row in rows:
            row.update(claimed_values, attempts=row["attempts"] + 1)
        return rows

    async def record_outcomes(self, outcomes: Sequence[Outcome]) -> set[str]:
        """Record outcomes in one transaction, one UPDATE per kind of outcome; return the accepted ids."""
        if not outcomes:
            return set()
        now = time.time()
        groups: dict[tuple[Any, ...], list[Outcome]] = {}
        for outcome in outcomes:
            key = (outcome.status, outcome.result, outcome.error, outcome.retry_in)
            groups.setdefault(key, []).append(outcome)
        accepted: set[str] = set()
        # The usual case, one kind of outcome, is a single UPDATE: autocommit saves two round trips.
        single = len(groups) == 1 and len(outcomes) <= CLAIM_BATCH_SIZE and self.dialect != "mysql"
        async with self._single_statement() if single else self._transaction() as conn:
            for (status, result, error, retry_in), members in groups.items():
                values: dict[str, Any] = {
                    "status": status.value,
                    "updated_at": now,
                    "lease_token": None,
                    "lease_expires_at": None,
                    "result": result,
                }
                if error is not None:
                    values["error"] = error
                if status is JobStatus.PENDING:
                    values["execute_at"] = now + (retry_in or 0.0)
                else:
                    values["finished_at"] = now
                claims = [(o.job_id, o.lease_token) for o in members]
                accepted |= await self._update_claimed(conn, claims, values)
        return accepted

    async def _update_claimed(
        self, conn: AsyncConnection, claims: Sequence[tuple[str, str]], values: dict[str, Any]
    ) -> set[str]:
        """Apply ``values`` to the running jobs that still hold these (id, token) claims (fencing).

        One statement per :data:`CLAIM_BATCH_SIZE` claims, whatever their number.
        """
        updated: set[str] = set()
        for start in range(0, len(claims), CLAIM_BATCH_SIZE):
            batch = list(claims[start : start + CLAIM_BATCH_SIZE])
            held = and_(tuple_(jobs.c.id, jobs.c.lease_token).in_(batch), jobs.c.status == _RUNNING)
            if self.dialect == "mysql":
                ids = set((await conn.execute(select(jobs.c.id).where(held).with_for_update())).scalars().all())
                if ids:
                    await conn.execute(update(jobs).where(jobs.c.id.in_(ids)).values(**values))
                updated |= ids
            else:
                result = await conn.execute(update(jobs).where(held).values(**values).returning(jobs.c.id))
                updated |= set(result.scalars().all())
        return updated

    async def extend_leases(self, worker_id: str, lease_timeout: float) -> set[str]:
        """Renew the leases of the worker's running jobs and its heartbeat; return the ids it holds."""
        now = time.time()
        mine = and_(jobs.c.worker_id == worker_id, jobs.c.status == _RUNNING)
        async with self._transaction() as conn:
            await conn.execute(update(workers).where(workers.c.id == worker_id).values(last_heartbeat=now))
            renew = update(jobs).where(mine).values(lease_expires_at=now + lease_timeout)
            if self.dialect == "mysql":
                await conn.execute(renew)
                return set((await conn.execute(select(jobs.c.id).where(mine))).scalars().all())
            return set((await conn.execute(renew.returning(jobs.c.id))).scalars().all())

    async def release_jobs(self, claims: Sequence[tuple[str, str]]) -> int:
        """Put claimed jobs back to pending without counting the interrupted attempt."""
        if not claims:
            return 0
        now = time.time()
        values = {
            "status": _PENDING,
            "attempts": jobs.c.attempts - 1,
            "worker_id": None,
            "lease_token": None,
            "lease_expires_at": None,
            "updated_at": now,
        }
        async with self._transaction() as conn:
            return len(await self._update_claimed(conn, claims, values))

    async def recover_expired_leases(self) -> tuple[int, int]:
        """Requeue running jobs whose lease expired (their worker died); fail those out of attempts."""
        now = time.time()
        expired = and_(jobs.c.status == _RUNNING_SQL, jobs.c.lease_expires_at < now)
        cleared = {"worker_id": None, "lease_token": None, "lease_expires_at": None, "updated_at": now}
        async with self._transaction() as conn:
            failed = await conn.execute(
                update(jobs)
                .where(expired, jobs.c.attempts > jobs.c.max_retries)
                .values(
                    status=JobStatus.FAILED.value,
                    finished_at=now,
                    error="WorkerLost: the worker running this job stopped renewing its lease (it crashed "
                    "or was killed) and the job has no retries left",
                    **cleared,
                )
            )
            requeued = await conn.execute(
                update(jobs)
                .where(expired)
                .values(
                    status=_PENDING,
                    execute_at=now,
                    error="WorkerLost: the worker running this job stopped renewing its lease; requeued",
                    **cleared,
                )
            )
        if requeued.rowcount or failed.rowcount:
            logger.warning(
                "Recovered jobs from lost workers: %d requeued, %d failed",
                requeued.rowcount,
                failed.rowcount,
                extra={"action": "recover_leases"},
            )
        return requeued.rowcount, failed.rowcount

    async def cancel_job(self, job_id: str) -> bool:
        """Cancel a pending or running job. A running job's late outcome is then rejected."""
        now = time.time()
        stmt = (
            update(jobs)
            .where(jobs.c.id == job_id, jobs.c.status.in_([_PENDING, _RUNNING]))
            .values(
                status=JobStatus.CANCELLED.value,
                finished_at=now,
                updated_at=now,
                lease_token=None,
                lease_expires_at=None,
            )
        )
        async with self._transaction() as conn:
            return bool((await conn.execute(stmt)).rowcount)

    async def retry_job(self, job_id: str) -> bool:
        """Send a failed or cancelled job back to pending, due now, with its attempts reset."""
        now = time.time()
        stmt = (
            update(jobs)
            .where(jobs.c.id == job_id, jobs.c.status.in_([JobStatus.FAILED.value, JobStatus.CANCELLED.value]))
            .values(**_retried_values(now))
        )
        async with self._transaction() as conn:
            return bool((await conn.execute(stmt)).rowcount)

    async def purge(
        self,
        older_than: float,
        statuses: Sequence[JobStatus | str] = FINISHED_STATUSES,
        *,
        batch_size: int = 5000,
        on_progress: Callable[[int], None] | None = None,
    ) -> int:
        """Delete finished jobs older than ``older_than`` seconds, in batches; return how many."""
        if older_than < 0 or not math.isfinite(older_than):
            raise ValueError("older_than must be a non-negative number of seconds")
        wanted = [JobStatus.parse(s) for s in statuses]
        if any(s not in FINISHED_STATUSES for s in wanted):
            raise ValueError("Only finished jobs (completed, failed, cancelled) can be purged")
        cutoff = time.time() - older_than
        victims = (
            select(jobs.c.id)
            .where(jobs.c.status.in_([s.value for s in wanted]), jobs.c.finished_at < cutoff)
            .limit(batch_size)
        )
        total = 0
        while True:
            async with self._transaction() as conn:
                ids = (await conn.execute(victims)).scalars().all()
                if ids:
                    await conn.execute(delete(jobs).where(jobs.c.id.in_(ids)))
            total += len(ids)
            if on_progress is not None and ids:
                on_progress(len(ids))
            if len(ids) < batch_size:
                return total

    # -- dashboard: per-queue figures, pages of jobs, bulk changes -----------------------------
    async def queue_stats(self, count_cap: int = 10_000) -> list[QueueStats]:
        """Every queue with jobs: counts by status and its oldest due pending job, read from the
        (queue, status, execute_at) index only.

        Pending and running jobs are counted exactly; a finished status stops counting past
        ``count_cap`` and is then marked capped, so the cost stays bounded however many finished
        jobs the table keeps.
        """
        now = time.time()
        async with self._transaction() as conn:
            names = list((await conn.execute(self._queue_names_query())).scalars().all())
            found: list[QueueStats] = []
            for start in range(0, len(names), 20):  # one round trip per 20 queues
                chunk = names[start : start + 20]
                columns: list[Any] = []
                for name in chunk:
                    in_queue = (jobs.c.queue == name,)
                    for status in JobStatus:
                        rows = select(jobs.c.execute_at).where(*in_queue, jobs.c.status == status.value)
                        if status in FINISHED_STATUSES:
                            rows = rows.limit(count_cap + 1)
                        columns.append(select(func.count()).select_from(rows.subquery()).scalar_subquery())
                    oldest = (
                        select(jobs.c.execute_at)
                        .where(*in_queue, jobs.c.status == _PENDING, jobs.c.execute_at <= now)
                        .order_by(jobs.c.execute_at)
                        .limit(1)
                    )
                    columns.append(oldest.scalar_subquery())
                row = (await conn.execute(select(*columns))).one()
                width = len(JobStatus) + 1
                for i, name in enumerate(chunk):
                    values = row[i * width : (i + 1) * width]
                    stats = QueueStats(name, oldest_due_at=None if values[-1] is None else float(values[-1]))
                    for status, count in zip(JobStatus, values[:-1], strict=True):
                        stats.counts[status.value] = min(int(count), count_cap)
                        if count > count_cap:
                            stats.capped.add(status.value)
                    found.append(stats)
        return found

    def _queue_names_query(self) -> Any:
        """The distinct queue names, skipping through the index (one probe per queue, not per row).

        MySQL/MariaDB do this loose index scan themselves for SELECT DISTINCT; PostgreSQL and SQLite
        need it spelt out as a recursive query.
        """
        if self.dialect == "mysql":
            return select(jobs.c.queue).distinct().order_by(jobs.c.queue)
        return text(
            "WITH RECURSIVE q(name) AS ("
            " SELECT (SELECT queue FROM dbjobq_jobs ORDER BY queue LIMIT 1)"
            " UNION ALL"
            " SELECT (SELECT queue FROM dbjobq_jobs WHERE queue > q.name ORDER BY queue LIMIT 1)"
            " FROM q WHERE q.name IS NOT NULL"
            ") SELECT name FROM q WHERE name IS NOT NULL"
        ).columns(jobs.c.queue)

    @staticmethod
    def _filters(status: JobStatus | str | None, queue: str | None, job_type: str | None) -> list[Any]:
        found: list[Any] = []
        if status is not None:
            found.append(jobs.c.status == JobStatus.parse(status).value)
        if queue is not None:
            found.append(jobs.c.queue == queue)
        if job_type is not None:
            found.append(jobs.c.type == job_type)
        return found

    async def count_matching(
        self, *, status: JobStatus | str | None = None, queue: str | None = None, job_type: str | None = None
    ) -> int:
        """How many jobs match every given filter."""
        stmt = select(func.count()).select_from(jobs).where(*self._filters(status, queue, job_type))
        async with self._transaction() as conn:
            return int((await conn.execute(stmt)).scalar() or 0)

    async def page_jobs(
        self,
        *,
        status: JobStatus | str | None = None,
        queue: str | None = None,
        job_type: str | None = None,
        before: str | None = None,
        after: str | None = None,
        limit: int = 50,
    ) -> list[Job]:
        """One page of job summaries, newest first, paged by id (ids are time-ordered): the jobs just
        older than ``before``, or just newer than ``after``, or the newest. Summaries: ``data`` and
        ``result`` are not loaded and ``error`` holds at most its first :data:`SUMMARY_ERROR_CHARS`
        characters, so a page costs the same whatever the payloads weigh."""
        if not 0 < limit <= 1000:
            raise ValueError("limit must be between 1 and 1000")
        summary = [c for c in jobs.c if c.name not in ("data", "result", "error")]
        error = func.substr(jobs.c.error, 1, SUMMARY_ERROR_CHARS).label("error")
        stmt = select(*summary, error).where(*self._filters(status, queue, job_type)).limit(limit)
        if after is not None:
            stmt = stmt.where(jobs.c.id > after).order_by(jobs.c.id)
        else:
            stmt = stmt.order_by(jobs.c.id.desc())
            if before is not None:
                stmt = stmt.where(jobs.c.id < before)
        async with self._transaction() as conn:
            rows = (await conn.execute(stmt)).mappings().all()
        found = [records.job_from_row({**row, "data": None, "result": None}) for row in rows]
        return found[::-1] if after is not None else found

    async def finished_per_minute(self, since: float) -> list[tuple[float, str, int]]:
        """Completed and failed jobs per minute since ``since``: (minute start, status, count) rows,
        read from the (status, finished_at) index."""
        minute: Any = (
            cast(jobs.c.finished_at / 60, Integer) if self.dialect == "sqlite" else func.floor(jobs.c.finished_at / 60)
        )
        stmt = (
            select(minute.label("minute"), jobs.c.status, func.count())
            .where(jobs.c.status.in_([JobStatus.COMPLETED.value, JobStatus.FAILED.value]), jobs.c.finished_at >= since)
            .group_by(minute, jobs.c.status)
        )
        async with self._transaction() as conn:
            return [(float(m) * 60, s, int(n)) for m, s, n in (await conn.execute(stmt)).all()]

    async def delete_job(self, job_id: str) -> bool:
        """Delete a finished job; False if it is pending or running (cancel it first) or unknown."""
        stmt = delete(jobs).where(jobs.c.id == job_id, jobs.c.status.in_([s.value for s in FINISHED_STATUSES]))
        async with self._transaction() as conn:
            return bool((await conn.execute(stmt)).rowcount)

    async def retry_failed(
        self, *, queue: str | None = None, job_type: str | None = None, batch_size: int = 1000
    ) -> int:
        """Send every failed job (of ``queue``/``job_type``) back to pending as :meth:`retry_job` does,
        in batches of ``batch_size`` (short transactions beside running workers); return how many."""
        failed = self._filters(JobStatus.FAILED, queue, job_type)
        total = 0
        while True:
            now = time.time()
            async with self._transaction() as conn:
                ids = list((await conn.execute(select(jobs.c.id).where(*failed).limit(batch_size))).scalars().all())
                if ids:
                    result = await conn.execute(
                        update(jobs).where(jobs.c.id.in_(ids), *failed).values(**_retried_values(now))
                    )
                    total += result.rowcount
            if len(ids) < batch_size:
                return total

    # -- schedules ----------------------------------------------------------------------------
    async def create_schedule(self, schedule: Schedule) -> None:
        """Insert a schedule after validating it; nothing is written if it is invalid or taken."""
        row = _schedule_row(schedule)
        try:
            async with self.engine.begin() as conn:
                await conn.execute(insert(schedules).values(created_at=row["updated_at"], **row))
        except IntegrityError:
            raise errors.ScheduleExistsError(
                f"A schedule with id {schedule.id!r} already exists: choose another id, or change it "
                "with update_schedule()"
            ) from None
        except DBAPIError as exc:
            raise errors.StorageError(f"Database error: {exc.orig!r}") from exc

    async def get_schedule(self, schedule_id: str) -> Schedule | None:
        """The schedule with that id, or ``None``."""
        async with self._transaction() as conn:
            row = (await conn.execute(select(schedules).where(schedules.c.id == schedule_id))).mappings().first()
        return None if row is None else records.schedule_from_row(row)

    async def list_schedules(self, enabled_only: bool = False) -> list[Schedule]:
        """Every schedule (or only the enabled ones), by id."""
        stmt = select(schedules).order_by(schedules.c.id)
        if enabled_only:
            stmt = stmt.where(schedules.c.enabled.is_(True))
        async with self._transaction() as conn:
            return [records.schedule_from_row(r) for r in (await conn.execute(stmt)).mappings().all()]

    async def update_schedule(self, schedule: Schedule) -> None:
        """Replace a schedule's fields (validated first); raises ``ScheduleNotFoundError``."""
        row = _schedule_row(schedule)
        async with self._transaction() as conn:
            result = await conn.execute(update(schedules).where(schedules.c.id == schedule.id).values(**row))
        if not result.rowcount:
            raise errors.ScheduleNotFoundError(f"No schedule has id {schedule.id!r}")

    async def update_schedule_next_run(self, schedule_id: str, next_run: float, last_run: float | None) -> None:
        """Set when a schedule fires next and when it last fired."""
        stmt = (
            update(schedules)
            .where(schedules.c.id == schedule_id)
            .values(next_run=next_run, last_run=last_run, updated_at=time.time())
        )
        async with self._transaction() as conn:
            result = await conn.execute(stmt)
        if not result.rowcount:
            raise errors.ScheduleNotFoundError(f"No schedule has id {schedule_id!r}")

    async def delete_schedule(self, schedule_id: str) -> bool:
        """Delete a schedule; False if there was none."""
        async with self._transaction() as conn:
            return bool((await conn.execute(delete(schedules).where(schedules.c.id == schedule_id))).rowcount)

    async def fire_due_schedules(self, now: float | None = None) -> list[str]:
        """Enqueue each due occurrence exactly once, however many workers run this at the same time.

        The schedule's move to its next fire time is a compare-and-set (``next_run`` still due and
        still before the new value) in the same transaction as the job's insert: of several workers
        that read the same due schedule, exactly one sees its UPDATE match and inserts the job.
        """
        now = time.time() if now is None else now
        due = select(schedules).where(schedules.c.enabled.is_(True), schedules.c.next_run <= now)
        async with self._transaction() as conn:
            candidates = [records.schedule_from_row(r) for r in (await conn.execute(due)).mappings().all()]
        fired: list[str] = []
        for schedule in candidates:
            try:
                following = scheduling.next_after(schedule, now)
            except ValueError:
                logger.exception("Schedule %s has an invalid expression; skipped", schedule.id)
                continue
            async with self._transaction() as conn:
                moved = await conn.execute(
                    update(schedules)
                    .where(
                        schedules.c.id == schedule.id,
                        schedules.c.enabled.is_(True),
                        schedules.c.next_run <= now,
                        schedules.c.next_run < following,
                    )
                    .values(next_run=following, last_run=now, updated_at=now)
                )
                if moved.rowcount != 1:
                    continue  # another worker fired this occurrence
                new = NewJob(
                    schedule.job_type,
                    dumps_payload(schedule.job_data),
                    schedule.queue,
                    schedule.priority,
                    schedule.max_retries,
                    now,
                )
                row = new_job_row(new, now)
                await conn.execute(insert(jobs).values(**row))
            fired.append(row["id"])
            logger.info(
                "Schedule %s fired job %s",
                schedule.id,
                row["id"],
                extra={"action": "schedule_fired", "schedule_id": schedule.id, "job_id": row["id"]},
            )
        return fired

    # -- workers ------------------------------------------------------------------------------
    async def register_worker(self, worker_id: str, *, queues: Sequence[str] | None, concurrency: int) -> None:
        """Record a live worker."""
        now = time.time()
        row = {
            "id": worker_id,
            "hostname": socket.gethostname()[:255],
            "pid": os.getpid(),
            "queues": ",".join(queues) if queues else None,
            "concurrency": concurrency,
            "started_at": now,
            "last_heartbeat": now,
        }
        async with self._transaction() as conn:
            await conn.execute(delete(workers).where(workers.c.id == worker_id))
            await conn.execute(insert(workers).values(**row))

    async def unregister_worker(self, worker_id: str) -> None:
        """Forget a worker that stopped."""
        async with self._transaction() as conn:
            await conn.execute(delete(workers).where(workers.c.id == worker_id))

    async def list_workers(self) -> list[dict[str, Any]]:
        """Known workers with their last heartbeat."""
        async with self._transaction() as conn:
            rows = (await conn.execute(select(workers).order_by(workers.c.started_at))).mappings().all()
        return [dict(r) for r in rows]

    async def prune_workers(self, older_than: float) -> int:
        """Forget workers silent for more than ``older_than`` seconds."""
        stmt = delete(workers).where(workers.c.last_heartbeat < time.time() - older_than)
        async with self._transaction() as conn:
            return int((await conn.execute(stmt)).rowcount)

    async def listen(self, on_notify: Callable[[], None]) -> Subscription | None:  # type: ignore[override]
        """LISTEN for new jobs (PostgreSQL); ``None`` on databases without notifications."""
        if not self.supports_notifications:
            return None
        try:
            return await Subscription.open(self.engine, on_notify)
        except (DBAPIError, OSError) as exc:
            raise errors.StorageError(f"Could not LISTEN: {exc!r}") from exc


def _sqlite_claim_ids(limit: int, now: float, queues: Sequence[str] | None) -> Any:
    """The ids to claim on SQLite, read through the claim index in its order (stops after ``limit`` rows).

    Without ANALYZE statistics SQLite's planner prefers the (status, finished_at) index for
    ``status = 'pending'`` and sorts every pending row on each claim; INDEXED BY pins the partial index.
    """
    sql = (
        "SELECT id FROM dbjobq_jobs INDEXED BY ix_dbjobq_jobs_claim WHERE status = 'pending' AND execute_at <= :now"
        + (" AND queue IN :queues" if queues else "")
        + " ORDER BY priority DESC, execute_at, id LIMIT :limit"
    )
    params: list[BindParameter[Any]] = [bindparam("now", now), bindparam("limit", limit)]
    if queues:
        params.append(bindparam("queues", list(queues), expanding=True))
    return text(sql).bindparams(*params).columns(jobs.c.id)


def new_job_row(new: NewJob, now: float) -> dict[str, Any]:
    """The ``dbjobq_jobs`` row for ``new`` enqueued at ``now`` (validated; adapters that insert with
    their own ORM, e.g. Django, build rows with this too)."""
    if not new.type or not isinstance(new.type, str):
        raise ValueError("The job type must be a non-empty string")
    if len(new.type) > 255:
        raise ValueError("The job type is longer than 255 characters")
    if not new.queue or not isinstance(new.queue, str) or len(new.queue) > 64:
        raise ValueError("queue must be a non-empty string of at most 64 characters")
    if not isinstance(new.priority, int) or isinstance(new.priority, bool):
        raise TypeError("priority must be an int")
    if not isinstance(new.max_retries, int) or new.max_retries < 0:
        raise ValueError("max_retries must be an int >= 0")
    if new.execute_at is not None and not math.isfinite(new.execute_at):
        raise ValueError("execute_at must be finite epoch seconds")
    return {
        "id": records.new_job_id(),
        "type": new.type,
        "queue": new.queue,
        "data": new.data,
        "status": _PENDING,
        "priority": new.priority,
        "attempts": 0,
        "max_retries": new.max_retries,
        "error": None,
        "result": None,
        "created_at": now,
        "updated_at": now,
        "execute_at": new.execute_at if new.execute_at is not None else now + (new.delay or 0.0),
        "started_at": None,
        "finished_at": None,
        "worker_id": None,
        "lease_token": None,
        "lease_expires_at": None,
    }


def _retried_values(now: float) -> dict[str, Any]:
    """A retried job: pending, due now, with fresh attempts (its last error stays until it runs)."""
    return {
        "status": _PENDING,
        "attempts": 0,
        "execute_at": now,
        "updated_at": now,
        "started_at": None,
        "finished_at": None,
        "worker_id": None,
    }


def _schedule_row(schedule: Schedule) -> dict[str, Any]:
    scheduling.validate_schedule(schedule)
    return {
        "id": schedule.id,
        "job_type": schedule.job_type,
        "job_data": dumps_payload(schedule.job_data),
        "queue": schedule.queue,
        "schedule_type": str(schedule.schedule_type),
        "schedule_expression": schedule.schedule_expression,
        "next_run": float(schedule.next_run),
        "last_run": schedule.last_run,
        "enabled": bool(schedule.enabled),
        "priority": schedule.priority,
        "max_retries": schedule.max_retries,
        "updated_at": time.time(),
    }
