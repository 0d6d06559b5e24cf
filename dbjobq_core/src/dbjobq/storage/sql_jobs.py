"""SQLAlchemyStorage's jobs: enqueueing, reading and counting them, and managing them by hand."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from .. import errors
from ..models import FINISHED_STATUSES, EnqueuedIds, Job, JobStatus, NewJob
from ..serialization import dumps_payload
from . import payloads, records, sql_dependencies, unique_keys
from .database import Database
from .dialects.default import INSERT_BATCH_SIZE
from .schema import PENDING_SQL, jobs
from .sql_views import job_filters, status_values

_CANCELLABLE = frozenset({JobStatus.WAITING.value, JobStatus.PENDING.value, JobStatus.RUNNING.value})
_RETRYABLE = frozenset({JobStatus.FAILED.value, JobStatus.CANCELLED.value})


class JobsSQL:
    """Part of :class:`~.sqlalchemy_storage.SQLAlchemyStorage`: every job statement but the worker's claims."""

    _db: Database

    # -- enqueueing ---------------------------------------------------------------------------
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

    async def enqueue_many(self, jobs_: Sequence[NewJob], *, connection: Any = None) -> EnqueuedIds:
        """Insert many jobs (validated first, nothing written if one is bad); their ids in order.

        A job whose unique key is held (by a stored job or an earlier one of ``jobs_``) is not written:
        its place holds the holder's id and is listed in the result's ``duplicates``. The database's
        clock stamps them: ``created_at`` and a due time of ``delay`` seconds after its now (the caller's
        clock plays no part unless it chose an absolute ``execute_at``). Data larger than the server accepts
        in one statement raises ``PayloadTooLargeError`` before anything is written.
        """
        rows = [records.job_insert_params(new) for new in jobs_]
        if not rows:
            return EnqueuedIds()
        limit = await self._db.impl.packet_limit(self._db)
        payloads.check_rows(rows, limit)
        if any(row["depends_on"] is not None for row in rows):
            if connection is not None:
                return await self._enqueue_dependent(connection, rows)
            async with self._db.transaction() as conn:
                return await self._enqueue_dependent(conn, rows)
        if any(row["unique_key"] is not None for row in rows):
            if connection is not None:
                return await unique_keys.insert_keyed(self._db.impl, connection, rows)
            async with self._db.transaction() as conn:
                return await unique_keys.insert_keyed(self._db.impl, conn, rows)
        if connection is not None:
            # The caller's AsyncConnection or AsyncSession: the jobs commit or roll back with it.
            stmt = self._db.impl.insert_jobs_statement()
            for batch in payloads.split_rows(rows, INSERT_BATCH_SIZE, limit):
                await connection.execute(stmt, batch)
        else:
            await self._db.impl.insert_jobs(self._db, rows)
        return EnqueuedIds([row["id"] for row in rows])

    async def _enqueue_dependent(self, conn: Any, rows: list[dict[str, Any]]) -> EnqueuedIds:
        """Insert jobs some of which depend on others, on ``conn`` in its transaction: each dependent
        starts waiting, pending (every dependency completed already) or failed (one failed or was
        cancelled); an unknown id is a ``ValueError`` and nothing is written."""
        failed = await sql_dependencies.settle_new(conn, rows, ids_in=self._db.impl.ids_in)
        if any(row["unique_key"] is not None for row in rows):
            ids = await unique_keys.insert_keyed(self._db.impl, conn, rows)
        else:
            stmt = self._db.impl.insert_jobs_statement()
            for start in range(0, len(rows), INSERT_BATCH_SIZE):
                await conn.execute(stmt, rows[start : start + INSERT_BATCH_SIZE])
            ids = EnqueuedIds([row["id"] for row in rows])
        if failed:  # finished when enqueued, by the database's clock
            now = self._db.impl.now()
            await conn.execute(update(jobs).where(self._db.impl.ids_in(failed)).values(finished_at=now, updated_at=now))
        return ids

    # -- reading ------------------------------------------------------------------------------
    async def get_job(self, job_id: str) -> Job | None:
        """The job with that id, or ``None``."""
        async with self._db.transaction() as conn:
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
        """Jobs by id (creation order), optionally filtered by status, queue and type; an undecodable
        row is listed with the reason in ``error``."""
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
        async with self._db.transaction() as conn:
            rows = (await conn.execute(stmt)).mappings().all()
        return [records.job_from_row(row) for row in rows]

    async def count_jobs(self) -> dict[tuple[str, str], int]:
        """Job counts keyed by (queue, status)."""
        stmt = select(jobs.c.queue, jobs.c.status, func.count()).group_by(jobs.c.queue, jobs.c.status)
        async with self._db.transaction() as conn:
            return {(q, s): n for q, s, n in (await conn.execute(stmt)).all()}

    async def count_finished(self, within: float) -> int:
        """How many jobs completed or failed in the last ``within`` seconds."""
        stmt = select(func.count()).where(
            jobs.c.status.in_([JobStatus.COMPLETED.value, JobStatus.FAILED.value]),
            jobs.c.finished_at >= self._db.impl.now() - within,
        )
        async with self._db.transaction() as conn:
            return int((await conn.execute(stmt)).scalar() or 0)

    async def seconds_until_due(
        self,
        queues: Sequence[str] | None = None,
        *,
        exclude: Sequence[str] | None = None,
        job_types: Sequence[str] | None = None,
    ) -> float | None:
        """Seconds until the soonest pending job (in ``queues``, not in ``exclude``, of ``job_types``) falls
        due (0 or less: due now), or ``None``; by the database's clock, so a worker's own clock does not make
        it wait too long or spin."""
        if job_types is not None and not job_types:
            return None
        stmt = select(func.min(jobs.c.execute_at) - self._db.impl.now()).where(jobs.c.status == PENDING_SQL)
        if job_types is not None:
            stmt = stmt.where(jobs.c.type.in_(list(job_types)))
        if queues:
            stmt = stmt.where(jobs.c.queue.in_(list(queues)))
        if exclude:
            stmt = stmt.where(jobs.c.queue.not_in(list(exclude)))
        async with self._db.transaction() as conn:
            due = (await conn.execute(stmt)).scalar()
        return None if due is None else float(due)

    # -- managing -----------------------------------------------------------------------------
    async def cancel_job(self, job_id: str) -> bool:
        """Cancel a pending or running job. A running job's late outcome is then rejected."""
        stmt = (
            update(jobs)
            .where(jobs.c.id == job_id, jobs.c.status.in_(sorted(_CANCELLABLE)))
            .values(**_cancelled_values(self._db.impl.now()))
        )
        async with self._db.transaction() as conn:
            return bool((await conn.execute(stmt)).rowcount)

    async def retry_job(self, job_id: str) -> bool:
        """Send a failed or cancelled job back to pending, due now, with its attempts reset."""
        stmt = (
            update(jobs)
            .where(jobs.c.id == job_id, jobs.c.status.in_([JobStatus.FAILED.value, JobStatus.CANCELLED.value]))
            .values(**_retried_values(self._db.impl.now()))
        )
        with _unique_key_held(f"Job {job_id} cannot be retried"):
            async with self._db.transaction() as conn:
                return bool((await conn.execute(stmt)).rowcount)

    async def delete_job(self, job_id: str) -> bool:
        """Delete a finished job; False if it is pending or running (cancel it first) or unknown."""
        stmt = delete(jobs).where(jobs.c.id == job_id, *job_filters(FINISHED_STATUSES, None, None))
        async with self._db.transaction() as conn:
            return bool((await conn.execute(stmt)).rowcount)

    async def retry_failed(
        self, *, queue: str | None = None, job_type: str | None = None, batch_size: int = 1000
    ) -> int:
        """Send every failed job (of ``queue``/``job_type``) back to pending; return how many."""
        return await self.retry_matching(status=JobStatus.FAILED, queue=queue, job_type=job_type, batch_size=batch_size)

    async def retry_matching(
        self,
        *,
        status: JobStatus | str | Sequence[JobStatus | str] = JobStatus.FAILED,
        queue: str | None = None,
        job_type: str | None = None,
        older_than: float | None = None,
        batch_size: int = 1000,
    ) -> int:
        """Send every matching failed or cancelled job back to pending as :meth:`retry_job` does, in
        batches of ``batch_size`` (short transactions beside running workers); return how many."""
        wanted = status_values(status)
        if not set(wanted) <= _RETRYABLE:
            raise ValueError("Only failed or cancelled jobs can be retried: give status failed and/or cancelled")
        with _unique_key_held("The jobs cannot all be retried"):
            return await self._update_matching(
                job_filters(wanted, queue, job_type, older_than, now=self._db.impl.now()), _retried_values, batch_size
            )

    async def cancel_matching(
        self,
        *,
        status: JobStatus | str | Sequence[JobStatus | str] | None = None,
        queue: str | None = None,
        job_type: str | None = None,
        older_than: float | None = None,
        batch_size: int = 1000,
    ) -> int:
        """Cancel every matching pending or running job as :meth:`cancel_job` does (``status`` None:
        both), in batches of ``batch_size``; return how many."""
        wanted = status_values(status) if status is not None else sorted(_CANCELLABLE)
        if not set(wanted) <= _CANCELLABLE:
            raise ValueError("Only pending or running jobs can be cancelled: give status pending and/or running")
        return await self._update_matching(
            job_filters(wanted, queue, job_type, older_than, now=self._db.impl.now()), _cancelled_values, batch_size
        )

    async def _update_matching(
        self, filters: list[Any], values: Callable[[Any], dict[str, Any]], batch_size: int
    ) -> int:
        """Apply ``values(now)`` to every job matching ``filters``, ``batch_size`` rows per transaction.

        The UPDATE repeats the filters: a job that changed status since it was selected is left alone.
        The new values never match the filters again, so the loop ends.
        """
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        total = 0
        while True:
            async with self._db.transaction() as conn:
                ids = list((await conn.execute(select(jobs.c.id).where(*filters).limit(batch_size))).scalars().all())
                if ids:
                    stmt = update(jobs).where(self._db.impl.ids_in(ids), *filters).values(**values(self._db.impl.now()))
                    total += (await conn.execute(stmt)).rowcount
            if len(ids) < batch_size:
                return total

    async def purge(
        self,
        older_than: float,
        statuses: Sequence[JobStatus | str] = FINISHED_STATUSES,
        *,
        batch_size: int = 5000,
        on_progress: Callable[[int], None] | None = None,
        dry_run: bool = False,
    ) -> int:
        """Delete finished jobs older than ``older_than`` seconds, in batches; return how many (with
        ``dry_run``, how many would be deleted, deleting nothing)."""
        if older_than < 0 or not math.isfinite(older_than):
            raise ValueError("older_than must be a non-negative number of seconds")
        wanted = [JobStatus.parse(s) for s in statuses]
        if any(s not in FINISHED_STATUSES for s in wanted):
            raise ValueError("Only finished jobs (completed, failed, cancelled) can be purged")
        cutoff = self._db.impl.now() - older_than  # the database's clock, as it stamped finished_at
        old = (jobs.c.status.in_([s.value for s in wanted]), jobs.c.finished_at < cutoff)
        if dry_run:
            async with self._db.transaction() as conn:
                return int((await conn.execute(select(func.count()).select_from(jobs).where(*old))).scalar() or 0)
        victims = select(jobs.c.id).where(*old).limit(batch_size)
        total = 0
        while True:
            async with self._db.transaction() as conn:
                ids = (await conn.execute(victims)).scalars().all()
                if ids:
                    await conn.execute(delete(jobs).where(self._db.impl.ids_in(ids)))
            total += len(ids)
            if on_progress is not None and ids:
                on_progress(len(ids))
            if len(ids) < batch_size:
                return total


@contextlib.contextmanager
def _unique_key_held(what: str) -> Iterator[None]:
    """A retry that would give a second job a held unique key fails on the unique index: say so."""
    try:
        yield
    except errors.StorageError as exc:
        if not isinstance(exc.__cause__, IntegrityError):
            raise
        raise errors.InvalidJobStateError(
            f"{what}: another job holds its unique key (pending or running); cancel that job first, or "
            "enqueue a new one"
        ) from exc


def _retried_values(now: Any) -> dict[str, Any]:
    """A retried job: pending, due now, with fresh attempts (its last error stays until it runs)."""
    return {
        "status": JobStatus.PENDING.value,
        "attempts": 0,
        "execute_at": now,
        "updated_at": now,
        "started_at": None,
        "finished_at": None,
        "worker_id": None,
    }


def _cancelled_values(now: Any) -> dict[str, Any]:
    """A cancelled job: finished, its claim revoked so that a running worker's late outcome is rejected."""
    return {
        "status": JobStatus.CANCELLED.value,
        "finished_at": now,
        "updated_at": now,
        "lease_token": None,
        "lease_expires_at": None,
    }
