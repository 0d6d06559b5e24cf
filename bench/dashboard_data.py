"""A big jobs table for the dashboard measurement, filled in SQL on PostgreSQL.

1,000,000 finished jobs (97 % completed, 2 % failed, 1 % cancelled) finished over the last seven
days, and 100,000 pending jobs (most due, some scheduled later), over four queues and twelve job
types, with ids laid out as the core makes them (time-ordered UUIDv7 text). ``ANALYZE`` and
``VACUUM`` run afterwards, as autovacuum would have done on a table that size.
"""

from __future__ import annotations

import time

QUEUES = ("default", "emails", "reports", "webhooks")
TYPES = tuple(f"app.jobs.task_{n:02d}" for n in range(12))

# A UUIDv7-shaped id from a creation time (epoch seconds) and a row number: the 48-bit millisecond
# prefix keeps ids in creation order, as records.new_job_id() does.
_ID = (
    "substr(lpad(to_hex((({t}) * 1000)::bigint), 12, '0'), 1, 8) || '-' || "
    "substr(lpad(to_hex((({t}) * 1000)::bigint), 12, '0'), 9, 4) || '-7' || "
    "substr(md5(g::text || '{salt}'), 1, 3) || '-8' || substr(md5(g::text || '{salt}'), 4, 3) || '-' || "
    "substr(md5(g::text || '{salt}'), 7, 12)"
)
_QUEUE = "(ARRAY['" + "','".join(QUEUES) + f"'])[1 + g % {len(QUEUES)}]"
_TYPE = "(ARRAY['" + "','".join(TYPES) + f"'])[1 + (g / 7) % {len(TYPES)}]"
_COLUMNS = (
    "id, type, queue, data, status, priority, attempts, max_retries, error, result, created_at, updated_at, "
    "execute_at, started_at, finished_at, worker_id"
)


def finished_sql(first: int, last: int, total: int, now: float, *, days: float = 7.0) -> str:
    """Finished jobs ``first``..``last`` of ``total`` created evenly over the last ``days`` days, each
    finishing 2 s after it was created."""
    created = f"({now} - {days * 86400} + g * {days * 86400 / total})"
    status = "CASE WHEN g % 100 = 0 THEN 'cancelled' WHEN g % 50 = 1 THEN 'failed' ELSE 'completed' END"
    error = (
        "CASE WHEN g % 50 = 1 THEN 'ValueError: bad input ' || g || E'\\nTraceback (most recent call last):"
        "\\n  File \"app/jobs.py\", line 12, in task\\nValueError: bad input' END"
    )
    result = "CASE WHEN g % 100 <> 0 AND g % 50 <> 1 THEN '{\"ok\": true}' END"
    return (
        f"INSERT INTO dbjobq_jobs ({_COLUMNS}) SELECT {_ID.format(t=created, salt='f')}, {_TYPE}, {_QUEUE}, "
        f"'{{\"user_id\": ' || g || ', \"note\": \"a payload of moderate size for the benchmark\"}}', {status}, "
        f"0, 1, 0, {error}, {result}, {created}, {created} + 2, {created}, {created} + 1, {created} + 2, "
        f"'bench-host:4242:' || (g % 8) FROM generate_series({first}, {last}) AS s(g)"
    )


def pending_sql(n: int, now: float) -> str:
    """``n`` pending jobs created over the last hour: nine in ten due, the rest due within a day."""
    created = f"({now} - 3600 + g * {3600 / n})"
    due = f"CASE WHEN g % 10 = 0 THEN {now} + (g % 86400) ELSE {created} END"
    return (
        f"INSERT INTO dbjobq_jobs ({_COLUMNS}) SELECT {_ID.format(t=created, salt='p')}, {_TYPE}, {_QUEUE}, "
        f"'{{\"user_id\": ' || g || '}}', 'pending', g % 3, 0, 3, NULL, NULL, {created}, {created}, {due}, "
        f"NULL, NULL, NULL FROM generate_series(1, {n}) AS s(g)"
    )


async def fill(url: str, *, finished: int, pending: int) -> float:
    """Create the tables at ``url`` (an asyncpg URL) and fill them; returns the seconds it took."""
    from sqlalchemy import text

    from dbjobq.storage import SQLAlchemyStorage

    start = time.perf_counter()
    now = time.time()
    storage = SQLAlchemyStorage(url)
    await storage.initialize()
    try:
        async with storage.engine.begin() as conn:
            for first in range(1, finished + 1, 250_000):  # in slices: one huge INSERT needs much memory
                last = min(first + 249_999, finished)
                await conn.execute(text(finished_sql(first, last, finished, now)))
            await conn.execute(text(pending_sql(pending, now)))
        async with storage.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE dbjobq_jobs"))
    finally:
        await storage.close()
    return time.perf_counter() - start
