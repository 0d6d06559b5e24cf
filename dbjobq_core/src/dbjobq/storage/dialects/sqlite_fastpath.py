"""SQLite: the hot path (enqueues, claims, outcomes) through a connection and a thread of its own.

Through SQLAlchemy and aiosqlite one single enqueue made about 20 hops between the event loop and
aiosqlite's thread (pool checkout, switching the connection to autocommit and back, cursor, execute,
close, the reset on check-in), about 1.1 ms of a 1.2 ms enqueue; a claim of 200 jobs and their outcomes
cost 67 µs a job, of which SQLite itself took 17. Here each is one hop: the statement (several in
BEGIN IMMEDIATE … COMMIT) runs on this path's own thread, on its own stdlib ``sqlite3`` connection with
the same settings as the engine's (WAL, ``synchronous=NORMAL``). It is a second writer in the process
beside the engine's connection: SQLite serializes the two with its lock, as it does across processes.
SQLite's own busy handler sleeps 1, 2, 5, 10… ms between tries, so a lock held for 0.3 ms cost an
enqueue 1 to 12 ms here; this path waits for the lock itself instead, in steps from 0.1 ms up to 5 ms,
for up to 30 seconds.

The column list comes from :mod:`..schema`, so the table keeps one definition; the clock columns are
stamped with this process's clock, as every SQLite statement is (``DefaultImpl.now``). An in-memory
database cannot be opened twice: it keeps the SQLAlchemy path.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from ...models import JobStatus, Outcome
from ..database import wrap_driver_errors
from ..records import complete_row
from ..schema import jobs

if TYPE_CHECKING:
    from .default import Claim

_T = TypeVar("_T")
_COLUMNS: tuple[str, ...] = tuple(column.name for column in jobs.c)
_INSERT_SQL = f"INSERT INTO {jobs.name} ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' for _ in _COLUMNS)})"
#: A claim: the candidates (:func:`claim_candidates_sql`) marked running, their rows returned.
_CLAIM_SQL = (
    f"UPDATE {jobs.name} SET attempts = attempts + 1, status = 'running', worker_id = ?, lease_token = ?, "
    "lease_expires_at = ?, started_at = ?, updated_at = ? WHERE id IN ({candidates}) "
    f"RETURNING {', '.join(_COLUMNS)}"
)
#: One kind of outcome (as ``records.outcome_values`` sets it) on the rows that still hold their claims:
#: ``execute_at`` is set for a retry, ``finished_at`` otherwise, ``error`` only when there is one.
_OUTCOME_SQL = (
    f"UPDATE {jobs.name} SET status = ?, updated_at = ?, lease_token = NULL, lease_expires_at = NULL, "
    "result = ?, error = COALESCE(?, error), attempts = attempts - ?, execute_at = COALESCE(?, execute_at), "
    "finished_at = COALESCE(?, finished_at) WHERE (id, lease_token) IN (VALUES {claims}) AND status = 'running' "
    "RETURNING id"
)
#: Outcomes per UPDATE (two parameters each: under every SQLite build's limit of bound parameters).
OUTCOME_BATCH_SIZE = 400
#: The settings every DBJobQ connection to a SQLite file gets (see ``SQLiteImpl.configure_engine``).
PRAGMAS = ("PRAGMA busy_timeout=30000", "PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL")
#: How long a hot-path statement waits for the write lock (as the engine's busy timeout), and its steps.
LOCK_TIMEOUT = 30.0
_FIRST_STEP, _LAST_STEP = 0.0001, 0.005
_SQLITE_BUSY, _SQLITE_LOCKED = 5, 6


def is_busy(exc: sqlite3.Error) -> bool:
    """True if ``exc`` means another connection holds the lock (nothing was written: try again)."""
    code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+
    if code is not None:
        return (code & 0xFF) in (_SQLITE_BUSY, _SQLITE_LOCKED)
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)


def _values(row: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(row[name] for name in _COLUMNS)


def claim_candidates_sql(claim: Claim, now: float) -> tuple[str, list[Any]]:
    """The ids to claim (due at ``now``), read through the claim index in its order (stops after
    ``limit`` rows), with ``?`` placeholders and their values.

    No row locks are needed: the single writer makes the claiming UPDATE atomic as it stands.
    Without ANALYZE statistics SQLite's planner prefers the (status, finished_at) index for
    ``status = 'pending'`` and sorts every pending row on each claim; INDEXED BY pins the partial index.
    """
    sql = [f"SELECT id FROM {jobs.name} INDEXED BY ix_dbjobq_jobs_claim WHERE status = 'pending' AND execute_at <= ?"]
    params: list[Any] = [now]
    for column, test, values in (
        ("queue", "IN", claim.queues or None),
        ("queue", "NOT IN", claim.exclude or None),
        ("type", "NOT IN", claim.exclude_types or None),
        ("type", "IN", claim.job_types),
    ):
        if values is not None:
            sql.append(f" AND {column} {test} ({', '.join('?' * len(values))})")
            params.extend(values)
    sql.append(" ORDER BY priority DESC, execute_at, id LIMIT ?")
    params.append(claim.limit)
    return "".join(sql), params


def claim_sql(claim: Claim, now: float) -> tuple[str, list[Any]]:
    """The claiming ``UPDATE … RETURNING`` at ``now`` and its values (``?`` placeholders)."""
    candidates, params = claim_candidates_sql(claim, now)
    values = [claim.worker_id, claim.token, now + claim.lease_timeout, now, now, *params]
    return _CLAIM_SQL.format(candidates=candidates), values


def _outcome_params(outcome: Outcome, now: float) -> list[Any]:
    """:data:`_OUTCOME_SQL`'s values before the claims, for one kind of outcome."""
    retry = outcome.status is JobStatus.PENDING
    return [
        outcome.status.value,
        now,
        outcome.result,
        outcome.error,
        1 if outcome.snoozed else 0,  # a snooze is not an attempt
        now + (outcome.retry_in or 0.0) if retry else None,
        None if retry else now,
    ]


class SQLiteFastPath:
    """Inserts, claims and records outcomes on one thread with one ``sqlite3`` connection (opened on first use)."""

    def __init__(self, database: str, *, uri: bool = False) -> None:
        self._database = database
        self._uri = uri
        self._executor: ThreadPoolExecutor | None = None
        self._starting = threading.Lock()  # a lazy storage may serve several threads' event loops
        self._connection: sqlite3.Connection | None = None  # used on the executor's thread only

    async def insert(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert new jobs (:func:`..records.job_insert_params`) in one transaction; driver errors wrapped."""
        now = time.time()
        records = [_values(complete_row(row, now)) for row in rows]
        if len(records) == 1:
            await self._run(lambda connection: connection.execute(_INSERT_SQL, records[0]), transaction=False)
        else:
            await self._run(lambda connection: connection.executemany(_INSERT_SQL, records), transaction=True)

    async def claim(self, claim: Claim) -> list[dict[str, Any]]:
        """Mark up to ``claim.limit`` due jobs running in one autocommitted ``UPDATE … RETURNING``; their rows."""
        sql, values = claim_sql(claim, time.time())

        def run(connection: sqlite3.Connection) -> list[dict[str, Any]]:
            return [dict(zip(_COLUMNS, row, strict=True)) for row in connection.execute(sql, values).fetchall()]

        return await self._run(run, transaction=False)

    async def record_outcomes(self, groups: Sequence[Sequence[Outcome]]) -> set[str]:
        """Record each group (one kind of outcome) with :data:`_OUTCOME_SQL`; one statement autocommitted,
        several in one transaction. The ids of the jobs that still held their claim."""
        now = time.time()
        statements = []
        for group in groups:
            head = _outcome_params(group[0], now)
            for start in range(0, len(group), OUTCOME_BATCH_SIZE):
                members = group[start : start + OUTCOME_BATCH_SIZE]
                claims = [value for outcome in members for value in (outcome.job_id, outcome.lease_token)]
                statements.append((_OUTCOME_SQL.format(claims=", ".join(["(?, ?)"] * len(members))), head + claims))

        def run(connection: sqlite3.Connection) -> set[str]:
            accepted: set[str] = set()
            for sql, values in statements:
                accepted.update(row[0] for row in connection.execute(sql, values).fetchall())
            return accepted

        return await self._run(run, transaction=len(statements) > 1)

    async def _run(self, work: Callable[[sqlite3.Connection], _T], *, transaction: bool) -> _T:
        """``work(connection)`` on this path's thread once the write lock is ours; driver errors wrapped."""
        with wrap_driver_errors(driver_errors=(sqlite3.Error,)):
            return await asyncio.get_running_loop().run_in_executor(self._thread(), self._locked, work, transaction)

    def _thread(self) -> ThreadPoolExecutor:
        with self._starting:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dbjobq-sqlite")
            return self._executor

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            connection = sqlite3.connect(
                self._database, uri=self._uri, timeout=LOCK_TIMEOUT, isolation_level=None, check_same_thread=False
            )
            for pragma in PRAGMAS:
                connection.execute(pragma)
            connection.execute("PRAGMA busy_timeout=0")  # _locked waits for the lock itself
            self._connection = connection
        return self._connection

    def _locked(self, work: Callable[[sqlite3.Connection], _T], transaction: bool) -> _T:
        """Run ``work`` as one autocommitted statement, or in BEGIN IMMEDIATE … COMMIT, waiting for the
        write lock meanwhile (a statement refused as busy wrote nothing: it is simply tried again)."""
        connection = self._connect()
        deadline, step = time.monotonic() + LOCK_TIMEOUT, _FIRST_STEP
        while True:
            try:
                if not transaction:
                    return work(connection)
                connection.execute("BEGIN IMMEDIATE")  # the write lock first: nothing after it waits
                break
            except sqlite3.Error as exc:
                if not is_busy(exc) or time.monotonic() > deadline:
                    raise
            time.sleep(step)
            step = min(step * 2, _LAST_STEP)
        try:
            result = work(connection)
            connection.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                connection.execute("ROLLBACK")
            raise
        return result

    def _close_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(sqlite3.Error):
                connection.close()

    async def close(self) -> None:
        """Close the connection on its thread, then the thread."""
        with self._starting:
            executor, self._executor = self._executor, None
        if executor is not None:
            with contextlib.suppress(Exception):
                await asyncio.get_running_loop().run_in_executor(executor, self._close_connection)
            executor.shutdown(wait=False)
