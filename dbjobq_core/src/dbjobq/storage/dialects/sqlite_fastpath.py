"""SQLite: enqueue through a connection and a thread of its own (the hot path).

Through SQLAlchemy and aiosqlite one single enqueue made about 20 hops between the event loop and
aiosqlite's thread (pool checkout, switching the connection to autocommit and back, cursor, execute,
close, the reset on check-in), about 1.1 ms of a 1.2 ms enqueue. Here it is one hop: the INSERT (and
for several rows BEGIN IMMEDIATE … COMMIT around ``executemany``) runs on this path's own thread, on
its own stdlib ``sqlite3`` connection with the same settings as the engine's (WAL, a 30-second busy
timeout, ``synchronous=NORMAL``). It is a second writer in the process beside the engine's connection:
SQLite serializes the two with its lock, as it does across processes. SQLite's own busy handler
sleeps 1, 2, 5, 10… ms between tries, so a lock held for 0.3 ms cost an enqueue 1 to 12 ms here; this
path waits for the lock itself instead, in steps from 0.1 ms up to 5 ms, for up to 30 seconds.

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
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..database import wrap_driver_errors
from ..records import complete_row
from ..schema import jobs

_COLUMNS: tuple[str, ...] = tuple(column.name for column in jobs.c)
_INSERT_SQL = f"INSERT INTO {jobs.name} ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' for _ in _COLUMNS)})"
#: The settings every DBJobQ connection to a SQLite file gets (see ``SQLiteImpl.configure_engine``).
PRAGMAS = ("PRAGMA busy_timeout=30000", "PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL")
#: How long an enqueue waits for the write lock (as the engine's busy timeout), and its steps.
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


class SQLiteFastPath:
    """Inserts job rows on one thread with one ``sqlite3`` connection (opened on first use)."""

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
        with wrap_driver_errors(driver_errors=(sqlite3.Error,)):
            await asyncio.get_running_loop().run_in_executor(self._thread(), self._insert, records)

    def _thread(self) -> ThreadPoolExecutor:
        with self._starting:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dbjobq-sqlite-enqueue")
            return self._executor

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            connection = sqlite3.connect(
                self._database, uri=self._uri, timeout=LOCK_TIMEOUT, isolation_level=None, check_same_thread=False
            )
            for pragma in PRAGMAS:
                connection.execute(pragma)
            connection.execute("PRAGMA busy_timeout=0")  # _insert waits for the lock itself
            self._connection = connection
        return self._connection

    def _insert(self, records: list[tuple[Any, ...]]) -> None:
        connection = self._connect()
        deadline, step = time.monotonic() + LOCK_TIMEOUT, _FIRST_STEP
        while True:
            try:
                if len(records) == 1:
                    connection.execute(_INSERT_SQL, records[0])  # autocommit: one implicit transaction
                    return
                connection.execute("BEGIN IMMEDIATE")  # the write lock first: nothing after it waits
                break
            except sqlite3.Error as exc:
                if not is_busy(exc) or time.monotonic() > deadline:
                    raise
            time.sleep(step)
            step = min(step * 2, _LAST_STEP)
        try:
            connection.executemany(_INSERT_SQL, records)
            connection.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                connection.execute("ROLLBACK")
            raise

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
