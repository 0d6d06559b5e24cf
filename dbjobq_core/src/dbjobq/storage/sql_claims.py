"""SQLAlchemyStorage's claims: what workers do with jobs — claim them, record outcomes, renew leases,
release them at shutdown, and recover the jobs of workers that died."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, case, select, tuple_, update
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from .. import errors
from ..models import Job, JobStatus, Outcome
from ..serialization import dumps_payload
from . import payloads, records
from .database import Database, LostConnectionError
from .dialects import Claim
from .ids import new_token
from .schema import RUNNING_SQL, jobs, workers

logger = logging.getLogger(__name__)

#: Claims per UPDATE when recording outcomes or releasing jobs (two parameters each; keeps statements
#: under every driver's parameter limit).
CLAIM_BATCH_SIZE = 1000

_RUNNING = JobStatus.RUNNING.value
# A job waiting in a worker's buffer may have had its attempt taken back (started_at empty, see
# mark_unstarted): releasing it takes back nothing more.
_UNCOUNTED = case((jobs.c.started_at.is_(None), jobs.c.attempts), else_=jobs.c.attempts - 1)


class _NotAllHeld(Exception):
    """An outcome's claim no longer held: its batch is recorded again by the path that reads which do."""


class ClaimsSQL:
    """Part of :class:`~.sqlalchemy_storage.SQLAlchemyStorage`: the statements a worker runs."""

    _db: Database

    async def claim_jobs(
        self,
        limit: int,
        *,
        worker_id: str,
        lease_timeout: float,
        queues: Sequence[str] | None = None,
        exclude: Sequence[str] | None = None,
        exclude_types: Sequence[str] | None = None,
        job_types: Sequence[str] | None = None,
    ) -> list[Job]:
        """Claim up to ``limit`` due jobs in one round trip (the database's claim: see ``dialects``); only
        of ``job_types`` when given (a worker's registered types: others stay pending for a worker that knows them).

        Rows are decoded one by one: a row that cannot be decoded is failed, fenced by this claim's
        token, and the rest of the batch is returned.
        """
        if limit <= 0 or (job_types is not None and not job_types):
            return []
        types = None if job_types is None else tuple(job_types)
        claim = Claim(
            limit, worker_id, new_token(), lease_timeout, queues, exclude or None, exclude_types or None, types
        )
        claimed: list[Job] = []
        undecodable: list[Outcome] = []
        for row in await self._db.impl.claim(self._db, claim):
            job, problem = records.decode_job(row)
            if problem is None:
                claimed.append(job)
            else:
                undecodable.append(Outcome(job.id, claim.token, JobStatus.FAILED, error=_undecodable_error(problem)))
        if undecodable:
            await self._fail_undecodable(undecodable)
        claimed.sort(key=lambda j: (-j.priority, j.execute_at or 0, j.id))
        return claimed

    async def claim_job(self, job_id: str, *, worker_id: str, lease_timeout: float) -> Job | None:
        """Claim one pending job by id, whether due or not (eager mode runs it at once); ``None`` if it is
        not pending. Portable: an UPDATE of that one row, then a SELECT, in one transaction."""
        values = records.claimed_values(worker_id, new_token(), self._db.impl.now(), lease_timeout)
        async with self._db.transaction() as conn:
            claimed = await conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.status == JobStatus.PENDING.value)
                .values(attempts=jobs.c.attempts + 1, **values)
            )
            if not claimed.rowcount:
                return None
            row = (await conn.execute(select(jobs).where(jobs.c.id == job_id))).mappings().one()
        return records.job_from_row(row)

    async def _fail_undecodable(self, outcomes: list[Outcome]) -> None:
        for outcome in outcomes:
            logger.error(
                "Job %s failed without running: %s",
                outcome.job_id,
                outcome.error,
                extra={"action": "job_undecodable", "job_id": outcome.job_id},
            )
        try:
            await self.record_outcomes(outcomes)
        except errors.StorageError:
            # The claimed good jobs must still run; these rows' leases expire and they are claimed again.
            logger.exception("Could not fail the undecodable jobs", extra={"action": "job_undecodable"})

    async def record_outcomes(self, outcomes: Sequence[Outcome]) -> set[str]:
        """Record outcomes in one transaction, one UPDATE per kind of outcome; return the accepted ids.

        A result or error too large for the server is cut with a marker. If the batch cannot be
        written, each outcome is tried alone: one the database refuses fails its job with an error
        saying why, and the others land. Raises ``StorageError`` only if the database itself fails.
        """
        if not outcomes:
            return set()
        limit = await self._db.impl.packet_limit(self._db)
        outcomes = [payloads.fit_outcome(outcome, limit) for outcome in outcomes]
        try:
            return await self._record_batch(outcomes)
        except Exception as exc:
            if transient(exc):
                raise  # a lost connection, a deadlock: the whole batch is tried again later
            if len(outcomes) == 1:
                return await self._record_alone(outcomes[0], exc)
            logger.warning(
                "Recording %d outcomes together failed (%s); recording them one by one",
                len(outcomes),
                _describe(exc),
                extra={"action": "outcomes_one_by_one"},
            )
        accepted: set[str] = set()
        for outcome in outcomes:
            try:
                accepted |= await self._record_batch([outcome])
            except Exception as exc:
                if transient(exc):
                    raise
                accepted |= await self._record_alone(outcome, exc)
        return accepted

    async def _record_alone(self, outcome: Outcome, exc: Exception) -> set[str]:
        """Fail the job whose outcome could not be written, saying why; re-raise if even that fails
        (then the database, not the outcome, is the trouble: the caller keeps the outcomes and retries)."""
        error = (
            f"OutcomeNotRecorded: DBJobQ could not record this job's outcome ({outcome.status.value}): "
            f"{_describe(exc)}. The job is failed instead; retry it once the cause is fixed."
        )
        failed = Outcome(outcome.job_id, outcome.lease_token, JobStatus.FAILED, error=error)
        try:
            accepted = await self._record_batch([failed])
        except Exception:
            raise exc from None
        logger.error(
            "Job %s: its outcome could not be recorded (%s); failed instead",
            outcome.job_id,
            _describe(exc),
            extra={"action": "outcome_not_recorded", "job_id": outcome.job_id},
        )
        return accepted

    async def _record_batch(self, outcomes: Sequence[Outcome]) -> set[str]:
        groups: dict[tuple[Any, ...], list[Outcome]] = {}
        for outcome in outcomes:
            key = (outcome.status, outcome.result, outcome.error, outcome.retry_in, outcome.snoozed)
            groups.setdefault(key, []).append(outcome)
        recorded = await self._db.impl.record_outcomes(self._db, list(groups.values()))
        if recorded is not None:  # the dialect's own hot path (PostgreSQL, SQLite)
            return recorded
        if not self._db.engine.dialect.update_returning:
            try:
                return await self._record_groups(groups, all_held=True)
            except _NotAllHeld:
                pass  # a claim was lost meanwhile: rolled back, and recorded below, reading which still hold
        return await self._record_groups(groups, all_held=False)

    async def _record_groups(self, groups: dict[tuple[Any, ...], list[Outcome]], *, all_held: bool) -> set[str]:
        """One UPDATE per kind of outcome (per :data:`CLAIM_BATCH_SIZE`), in one transaction unless it is
        one statement where the database returns the ids; ``all_held``: see :meth:`_update_claimed`."""
        now = self._db.impl.now()
        accepted: set[str] = set()
        # The usual case, one kind of outcome, is one statement where the database returns the ids.
        count = sum(len(members) for members in groups.values())
        single = len(groups) == 1 and count <= CLAIM_BATCH_SIZE and self._db.engine.dialect.update_returning
        async with self._db.write(single_statement=single) as conn:
            for members in groups.values():
                values = records.outcome_values(members[0], now)  # the same for every member of a group
                claims = [(o.job_id, o.lease_token) for o in members]
                accepted |= await self._update_claimed(conn, claims, values, all_held=all_held)
        return accepted

    async def _update_claimed(
        self,
        conn: AsyncConnection,
        claims: Sequence[tuple[str, str]],
        values: dict[str, Any],
        *also: ColumnElement[bool],
        all_held: bool = False,
    ) -> set[str]:
        """Apply ``values`` to the running jobs that still hold these (id, token) claims (fencing).

        One statement per :data:`CLAIM_BATCH_SIZE` claims, whatever their number. With ``all_held``
        (where an UPDATE cannot return ids: MySQL/MariaDB), every claim is expected to hold, as it usually
        does, and the UPDATE's row count says so without a ``SELECT … FOR UPDATE`` of the ids first (one
        statement fewer per batch); a count short of its batch raises :class:`_NotAllHeld`, and the
        caller's transaction rolls back for the path that reads the ids.
        """
        updated: set[str] = set()
        for start in range(0, len(claims), CLAIM_BATCH_SIZE):
            batch = list(claims[start : start + CLAIM_BATCH_SIZE])
            held = and_(tuple_(jobs.c.id, jobs.c.lease_token).in_(batch), jobs.c.status == _RUNNING, *also)
            if not all_held:
                updated |= await self._db.impl.update_returning_ids(conn, held, values)
            elif (await conn.execute(update(jobs).where(held).values(**values))).rowcount == len(batch):
                updated.update(job_id for job_id, _ in batch)
            else:
                raise _NotAllHeld
        return updated

    async def set_job_meta(self, job_id: str, lease_token: str, meta: dict[str, Any]) -> bool:
        """Replace a running job's ``meta`` (its progress) while it holds the claim ``lease_token``."""
        held = and_(jobs.c.id == job_id, jobs.c.lease_token == lease_token, jobs.c.status == _RUNNING)
        async with self._db.write(single_statement=True) as conn:
            updated = await conn.execute(update(jobs).where(held).values(meta=dumps_payload(meta)))
        return bool(updated.rowcount)

    async def mark_unstarted(self, claims: Sequence[tuple[str, str]]) -> set[str]:
        """Take back the attempt of claimed jobs still waiting in their worker's buffer (``started_at``
        emptied), so that they go back uncounted if the worker dies; return the ids still held."""
        if not claims:
            return set()
        values = {"attempts": jobs.c.attempts - 1, "started_at": None}
        async with self._db.transaction() as conn:
            return await self._update_claimed(conn, claims, values, jobs.c.started_at.is_not(None))

    async def mark_started(self, claims: Sequence[tuple[str, str]]) -> set[str]:
        """Count again the attempt of jobs :meth:`mark_unstarted` took back, now starting (and set
        ``started_at``); return the ids still held."""
        if not claims:
            return set()
        values = {"attempts": jobs.c.attempts + 1, "started_at": self._db.impl.now()}
        async with self._db.transaction() as conn:
            return await self._update_claimed(conn, claims, values, jobs.c.started_at.is_(None))

    async def extend_leases(self, worker_id: str, lease_timeout: float) -> set[str]:
        """Renew the leases of the worker's running jobs and its heartbeat; return the ids it holds."""
        now = self._db.impl.now()
        mine = and_(jobs.c.worker_id == worker_id, jobs.c.status == _RUNNING)
        async with self._db.transaction() as conn:
            await conn.execute(update(workers).where(workers.c.id == worker_id).values(last_heartbeat=now))
            return await self._db.impl.update_returning_ids(conn, mine, {"lease_expires_at": now + lease_timeout})

    async def release_jobs(self, claims: Sequence[tuple[str, str]]) -> int:
        """Put claimed jobs back to pending without counting the interrupted attempt."""
        if not claims:
            return 0
        values = {
            "status": JobStatus.PENDING.value,
            "attempts": _UNCOUNTED,  # a job claimed ahead and never started had no attempt counted
            "worker_id": None,
            "lease_token": None,
            "lease_expires_at": None,
            "updated_at": self._db.impl.now(),
        }
        async with self._db.transaction() as conn:
            return len(await self._update_claimed(conn, claims, values))

    async def recover_expired_leases(self) -> tuple[int, int]:
        """Requeue running jobs whose lease expired (their worker died); fail those out of attempts.

        Expiry is judged by the database's clock, which also stamped the lease: a worker whose own clock
        runs ahead cannot take over a lease that its owner is renewing."""
        now = self._db.impl.now()
        expired = and_(jobs.c.status == RUNNING_SQL, jobs.c.lease_expires_at < now)
        cleared = {"worker_id": None, "lease_token": None, "lease_expires_at": None, "updated_at": now}
        async with self._db.transaction() as conn:
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
            # Each statement judges the attempts it finds: one counted between the two (a start whose
            # attempt the worker had taken back, written as the lease ran out) stays for the next pass,
            # which fails it, rather than going back with no retries left.
            requeued = await conn.execute(
                update(jobs)
                .where(expired, jobs.c.attempts <= jobs.c.max_retries)
                .values(
                    status=JobStatus.PENDING.value,
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


def transient(exc: BaseException) -> bool:
    """True if writing may succeed when tried again (a lost connection, a deadlock, a lock timeout), False if
    the database refused what was written (bad text, a value too large): only that fails a job."""
    if isinstance(exc, LostConnectionError):  # a driver's lost connection, whichever the driver
        return True
    cause = exc.__cause__ if isinstance(exc, errors.StorageError) else exc
    if isinstance(cause, DBAPIError):
        if "max_allowed_packet" in str(cause.orig):
            return False
        return bool(cause.connection_invalidated) or isinstance(cause, (OperationalError, InterfaceError))
    sqlstate = getattr(cause, "sqlstate", None)  # a server error through a driver used directly (asyncpg)
    if isinstance(sqlstate, str):
        return sqlstate.startswith(_TRANSIENT_SQLSTATE_CLASSES) or sqlstate in _TRANSIENT_SQLSTATES
    return cause is None or isinstance(cause, (OSError, asyncio.TimeoutError))


#: SQLSTATE classes (and codes) worth trying again: a lost connection (08), a deadlock or serialization
#: failure (40), too few resources (53), a lock not available (55P03), an operator's intervention or a
#: statement timeout (57), a system error (58). Others (bad data, a value too large) are the outcome's own.
_TRANSIENT_SQLSTATE_CLASSES = ("08", "40", "53", "57", "58")
_TRANSIENT_SQLSTATES = frozenset({"55P03"})


def _describe(exc: BaseException, limit: int = 1000) -> str:
    """A short, printable (ASCII) description of why a write failed."""
    try:
        text = f"{type(exc).__name__}: {exc}"
    except Exception:
        text = type(exc).__name__
    text = text if text.isascii() else ascii(text)[1:-1]
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _undecodable_error(problem: str) -> str:
    return (
        f"{records.UNDECODABLE}: DBJobQ cannot decode this job's stored row: {problem}. "
        "It was failed without running; enqueue it again with valid data."
    )
