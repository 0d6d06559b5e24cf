"""pgqueuer (PostgreSQL only) with its defaults, through its documented API.

Run with bench/.venvs/pgqueuer: ``python -m bench.workloads.pgqueuer_queue CMD --url postgresql://…``.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import asyncpg
from pgqueuer import PgQueuer
from pgqueuer.db import AsyncpgDriver
from pgqueuer.domain.types import QueueExecutionMode
from pgqueuer.models import Job
from pgqueuer.queries import Queries

from .common import (
    Executions,
    LatencyRecorder,
    deadline_for,
    install_term,
    paced,
    peak_rss_mb,
    ready,
    run_command,
    wait_done,
)

ENTRYPOINT = "noop"


async def connect(url: str) -> asyncpg.Connection:
    return await asyncpg.connect(url)


async def queries(url: str) -> tuple[asyncpg.Connection, Queries]:
    conn = await connect(url)
    q = Queries(AsyncpgDriver(conn))
    if not await q.schema_is_installed():
        await q.install()
    return conn, q


def payload(data: dict[str, Any]) -> bytes:
    return json.dumps(data).encode()


async def enqueue_single(url: str, n: int) -> dict[str, Any]:
    conn, q = await queries(url)
    try:
        await q.enqueue(ENTRYPOINT, payload({"i": -1}))
        start = time.perf_counter()
        for i in range(n):
            await q.enqueue(ENTRYPOINT, payload({"i": i}))
        elapsed = time.perf_counter() - start
    finally:
        await conn.close()
    return {"jobs": n, "seconds": elapsed, "rate": n / elapsed}


async def enqueue_bulk(url: str, n: int) -> dict[str, Any]:
    conn, q = await queries(url)
    try:
        start = time.perf_counter()
        ids = await q.enqueue([ENTRYPOINT] * n, [payload({"i": i}) for i in range(n)], [0] * n)
        elapsed = time.perf_counter() - start
        assert len(ids) == n
    finally:
        await conn.close()
    return {"jobs": n, "seconds": elapsed, "rate": n / elapsed}


async def fill(url: str, n: int, sleep: float = 0.0) -> dict[str, Any]:
    conn, q = await queries(url)
    entrypoint, extra = ("io", {"s": sleep}) if sleep else (ENTRYPOINT, {})
    try:
        for start in range(0, n, 50_000):
            size = min(n, start + 50_000) - start
            await q.enqueue([entrypoint] * size, [payload({"i": start + i, **extra}) for i in range(size)], [0] * size)
    finally:
        await conn.close()
    return {"jobs": n}


def make_manager(conn: asyncpg.Connection, on_job: Any) -> PgQueuer:
    pgq = PgQueuer(AsyncpgDriver(conn))

    @pgq.entrypoint(ENTRYPOINT)
    async def noop(job: Job) -> None:
        on_job(job)

    @pgq.entrypoint("io")
    async def io(job: Job) -> None:
        """W8: awaits ``s`` seconds, as an HTTP call would."""
        await asyncio.sleep(json.loads(job.payload or b"{}")["s"])
        on_job(job)

    return pgq


async def drain(url: str, n: int, concurrency: int = 0) -> dict[str, Any]:
    """One QueueManager with its defaults (``concurrency``: ``max_concurrent_tasks``), drain mode."""
    await (await queries(url))[0].close()
    conn = await connect(url)
    seen: dict[Any, int] = {}

    def on_job(job: Job) -> None:
        seen[job.id] = seen.get(job.id, 0) + 1

    qm = make_manager(conn, on_job)
    start = time.perf_counter()
    if concurrency:
        await qm.qm.run(mode=QueueExecutionMode.drain, max_concurrent_tasks=concurrency)
    else:
        await qm.qm.run(mode=QueueExecutionMode.drain)
    elapsed = time.perf_counter() - start
    await conn.close()
    executions = sum(seen.values())
    return {
        "jobs": executions,
        "distinct": len(seen),
        "seconds": elapsed,
        "rate": executions / elapsed,
        "peak_rss_mb": peak_rss_mb(),
    }


async def verify(url: str, n: int) -> dict[str, Any]:
    """Nothing left in the queue table, and the log holds one success per job."""
    conn = await connect(url)
    try:
        left = await conn.fetchval("SELECT count(*) FROM pgqueuer")
        logged = await conn.fetch("SELECT status::text AS status, count(*) AS n FROM pgqueuer_log GROUP BY 1")
        stats = await conn.fetch("SELECT status::text AS status, sum(count) AS n FROM pgqueuer_statistics GROUP BY 1")
    finally:
        await conn.close()
    counts = {f"log/{r['status']}": int(r["n"]) for r in logged}
    counts.update({f"statistics/{r['status']}": int(r["n"]) for r in stats})
    # The log keeps one row per event until pgqueuer folds it into the statistics table.
    successful = max(counts.get("log/successful", 0), counts.get("statistics/successful", 0))
    return {"ok": left == 0 and successful == n, "left": int(left), "counts": counts}


async def flow(url: str, n: int) -> dict[str, Any]:
    """W11: ``n`` single enqueues while one QueueManager (defaults) runs them; returns once all have run."""
    conn, q = await queries(url)
    worker_conn = await connect(url)
    runs = Executions(n)
    qm = make_manager(worker_conn, lambda job: runs.finished(job.id))
    running = asyncio.create_task(qm.qm.run())
    start = time.perf_counter()
    try:
        for i in range(n):
            await q.enqueue(ENTRYPOINT, payload({"i": i}))
        await wait_done(runs.done, deadline_for(n), f"{n} jobs to run")
        elapsed = time.perf_counter() - start
    finally:
        qm.shutdown.set()
        await running
        await worker_conn.close()
        await conn.close()
    return {"jobs": runs.total, "distinct": len(runs.seen), "seconds": elapsed}


async def idle_worker(url: str, out: str) -> dict[str, Any]:
    await (await queries(url))[0].close()
    conn = await connect(url)
    latency = LatencyRecorder()
    qm = make_manager(conn, lambda job: latency.record(json.loads(job.payload or b"{}")))
    install_term(asyncio.get_running_loop(), qm.shutdown.set)
    runner = asyncio.create_task(qm.qm.run())
    await asyncio.sleep(1.0)
    ready()
    await runner
    await conn.close()
    latency.dump(out)
    return {"completed": len(latency.values)}


async def latency_producer(url: str, n: int, interval: float) -> dict[str, Any]:
    conn, q = await queries(url)
    try:
        await q.enqueue(ENTRYPOINT, payload({"warm": 1}))
        await asyncio.sleep(0.5)
        await paced(n, interval, lambda: q.enqueue(ENTRYPOINT, payload({"t": time.time()})))
        await asyncio.sleep(1.0)
    finally:
        await conn.close()
    return {"jobs": n}


COMMANDS = {
    "enqueue_single": lambda a: enqueue_single(a.url, a.n),
    "enqueue_bulk": lambda a: enqueue_bulk(a.url, a.n),
    "fill": lambda a: fill(a.url, a.n, a.sleep),
    "drain": lambda a: drain(a.url, a.n, a.concurrency),
    "flow": lambda a: flow(a.url, a.n),
    "verify": lambda a: verify(a.url, a.n),
    "idle_worker": lambda a: idle_worker(a.url, a.out),
    "latency_producer": lambda a: latency_producer(a.url, a.n, a.interval),
}

if __name__ == "__main__":
    run_command(__doc__ or "", COMMANDS)
