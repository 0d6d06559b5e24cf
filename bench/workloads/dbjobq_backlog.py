"""W5 helpers for DBJobQ: fill the jobs table with a large backlog in SQL, and EXPLAIN the claim.

The rows have the shape the core writes (36-character ids, epoch-second times, JSON text payloads).
Finished jobs finished an hour ago, inside the default retention, so the worker keeps them.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event, text

from dbjobq.storage.dialects.default import Claim
from dbjobq.storage.dialects.postgresql import CLAIM_SQL, SET_LOCAL_PLANNER_SETTINGS
from dbjobq.storage.dialects.sqlite_fastpath import claim_sql

from .dbjobq_current import open_queue

COLUMNS = (
    "id, type, queue, data, status, priority, attempts, max_retries, created_at, updated_at, execute_at, "
    "started_at, finished_at"
)

_ID = {
    "postgresql": "md5('{p}' || g)::uuid::text",
    "sqlite": "printf('{p}%07x-0000-7000-8000-%012x', g, g)",
    "mysql": "CONCAT('{p}', LPAD(HEX(g), 7, '0'), '-0000-7000-8000-', LPAD(HEX(g), 12, '0'))",
}
_SERIES = {
    "postgresql": "FROM generate_series(1, {n}) AS s(g)",
    "sqlite": "FROM s",
    "mysql": "FROM (SELECT seq AS g FROM seq_1_to_{n}) AS s",
}
_CONCAT = {
    "postgresql": "'{{\"i\":' || g || '}}'",
    "sqlite": "'{{\"i\":' || g || '}}'",
    "mysql": "CONCAT('{{\"i\":', g, '}}')",
}


def _insert(dialect: str, n: int, *, finished: bool, now: float) -> str:
    ident = _ID[dialect].format(p="f" if finished else "p")
    data = _CONCAT[dialect].format()
    if finished:
        values = (
            f"{ident}, 'bench.noop', 'default', {data}, 'completed', 0, 1, 0, {now - 7200} + g * 0.001, "
            f"{now - 3600}, {now - 7200} + g * 0.001, {now - 3600}, {now - 3600}"
        )
    else:
        values = (
            f"{ident}, 'bench.noop', 'default', {data}, 'pending', 0, 0, 0, {now - 60} + g * 0.0001, "
            f"{now - 60}, {now - 60} + g * 0.0001, NULL, NULL"
        )
    body = f"INSERT INTO dbjobq_jobs ({COLUMNS}) SELECT {values} {_SERIES[dialect].format(n=n)}"
    if dialect == "sqlite":
        return f"WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < {n}) {body}"
    return body


async def backlog(args: Any) -> dict[str, Any]:
    """``--finished`` completed jobs and ``--n`` pending due jobs, inserted in SQL."""
    storage, _ = await open_queue(args.url)
    now = time.time()
    start = time.perf_counter()
    try:
        async with storage.engine.begin() as conn:
            if args.finished:
                await conn.execute(text(_insert(storage.dialect, args.finished, finished=True, now=now)))
            if args.n:
                await conn.execute(text(_insert(storage.dialect, args.n, finished=False, now=now)))
        async with storage.engine.connect() as conn:
            analyze = {"postgresql": "ANALYZE dbjobq_jobs", "sqlite": "ANALYZE", "mysql": "ANALYZE TABLE dbjobq_jobs"}
            await conn.execute(text(analyze[storage.dialect]))
            await conn.commit()
            count = (await conn.execute(text("SELECT count(*) FROM dbjobq_jobs"))).scalar()
    finally:
        await storage.close()
    return {"rows": int(count or 0), "seconds": time.perf_counter() - start}


async def explain(args: Any) -> dict[str, Any]:
    """Capture the SQL of one real ``claim_jobs`` call, then EXPLAIN it (ANALYZE on PostgreSQL, rolled back)."""
    storage, _ = await open_queue(args.url)
    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, _ctx: Any, _many: bool) -> None:
        if "dbjobq_jobs" in statement and ("SKIP LOCKED" in statement or "UPDATE dbjobq_jobs" in statement):
            captured.append((statement, parameters))

    event.listen(storage.engine.sync_engine, "before_cursor_execute", capture)
    try:
        claimed = await storage.claim_jobs(20, worker_id="bench-explain", lease_timeout=30.0)
        event.remove(storage.engine.sync_engine, "before_cursor_execute", capture)
        if storage.dialect == "postgresql":
            # PostgreSQL claims through asyncpg, not SQLAlchemy: explain the statement it runs, same arguments
            # (worker id, claim token, lease timeout, limit), with its connections' planner settings.
            statement, parameters = CLAIM_SQL, ["bench-explain", "explain-token", 30.0, 20]
        elif storage.dialect == "sqlite":
            # SQLite claims through its hot path's own connection too: explain that statement, same arguments.
            statement, parameters = claim_sql(Claim(20, "bench-explain", "explain-token", 30.0), time.time())
        else:
            statement, parameters = captured[0]
        async with storage.engine.connect() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            if storage.dialect == "postgresql":
                transaction = raw.transaction()
                await transaction.start()
                for setting in SET_LOCAL_PLANNER_SETTINGS:
                    await raw.execute(setting)
                rows = await raw.fetch("EXPLAIN (ANALYZE, BUFFERS) " + statement, *parameters)
                await transaction.rollback()
                plan = [r[0] for r in rows]
                seq_scan = any("Seq Scan on dbjobq_jobs" in line for line in plan)
            elif storage.dialect == "sqlite":
                cursor = await raw.execute("EXPLAIN QUERY PLAN " + statement, parameters)
                plan = [" ".join(str(c) for c in row) for row in await cursor.fetchall()]
                seq_scan = any("SCAN dbjobq_jobs" in line and "INDEX" not in line for line in plan)
            else:
                async with raw.cursor() as cursor:
                    await cursor.execute("EXPLAIN " + statement, parameters)
                    names = [d[0] for d in cursor.description]
                    plan = [str(dict(zip(names, row, strict=True))) for row in await cursor.fetchall()]
                seq_scan = any("'type': 'ALL'" in line for line in plan)
                await raw.rollback()
    finally:
        await storage.close()
    return {"claimed": len(claimed), "statement": statement, "plan": plan, "seq_scan": seq_scan}


COMMANDS = {"backlog": backlog, "explain": explain}
