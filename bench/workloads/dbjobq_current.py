"""DBJobQ (this repository) on PostgreSQL, SQLite or MariaDB/MySQL, through its public API only.

Run with the project's interpreter: ``.venv/bin/python -m bench.workloads.dbjobq_current CMD --url URL``.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from dbjobq import JobQueue, Worker, job
from dbjobq.storage import SQLAlchemyStorage

from .common import (
    Executions,
    LatencyRecorder,
    deadline_for,
    emit,
    install_term,
    paced,
    parser,
    peak_rss_mb,
    percentiles,
    ready,
    wait_done,
)

_latency = LatencyRecorder()
_runs = Executions()


@job(name="bench.noop")
async def noop(data: dict[str, Any]) -> None:
    """The no-op job every throughput workload runs."""
    if "t" in data:
        _latency.record(data)
    elif _runs.target:
        _runs.finished(data.get("i"))


@job(name="bench.io")
async def io(data: dict[str, Any]) -> None:
    """W8: an async job that awaits ``s`` seconds, as an HTTP call would."""
    await asyncio.sleep(data["s"])


@job(name="bench.block")
def block(data: dict[str, Any]) -> None:
    """W9: a sync job that blocks its thread for ``s`` seconds."""
    time.sleep(data["s"])


def flow_job(kind: str) -> str:
    """W3's flow-control variants: register the no-op under a concurrency or rate limit; its job type.

    Registered only when asked for: a worker claims every flow-controlled type registered in its
    process apart from the others, so plain W3 must not see them.
    """
    if kind == "keys50":
        job(name="bench.noop_keys50", concurrency_limit=1, concurrency_key=lambda data: data["i"] % 50)(noop)
        return "bench.noop_keys50"
    if kind == "rate1000":
        job(name="bench.noop_rate1000", rate_limit="1000/s")(noop)
        return "bench.noop_rate1000"
    raise SystemExit(f"unknown --flow {kind!r}: keys50 or rate1000")


def async_url(url: str) -> str:
    """Plain URL -> the async SQLAlchemy URL DBJobQ takes."""
    scheme, rest = url.split("://", 1)
    driver = {"postgresql": "postgresql+asyncpg", "sqlite": "sqlite+aiosqlite", "mysql": "mysql+aiomysql"}[scheme]
    return f"{driver}://{rest}"


async def open_queue(url: str) -> tuple[SQLAlchemyStorage, JobQueue]:
    storage = SQLAlchemyStorage(async_url(url))
    await storage.initialize()
    return storage, JobQueue(storage)


# -- W1/W2: enqueue ---------------------------------------------------------------------------
async def enqueue_single(url: str, n: int) -> dict[str, Any]:
    storage, queue = await open_queue(url)
    try:
        await queue.enqueue(noop, {"i": -1})  # warm the pool and statement caches
        start = time.perf_counter()
        for i in range(n):
            await queue.enqueue(noop, {"i": i})
        elapsed = time.perf_counter() - start
    finally:
        await storage.close()
    return {"jobs": n, "seconds": elapsed, "rate": n / elapsed}


async def enqueue_bulk(url: str, n: int) -> dict[str, Any]:
    storage, queue = await open_queue(url)
    try:
        start = time.perf_counter()
        ids = await queue.enqueue_many(noop, [{"i": i} for i in range(n)])
        elapsed = time.perf_counter() - start
        assert len(ids) == n
    finally:
        await storage.close()
    return {"jobs": n, "seconds": elapsed, "rate": n / elapsed}


async def fill(url: str, n: int, sleep: float = 0.0, sync: bool = False, flow: str = "") -> dict[str, Any]:
    """Pre-enqueue ``n`` jobs (not timed): no-ops, or jobs that wait ``sleep`` s (blocking with ``sync``),
    or no-ops under a concurrency or rate limit (``flow``)."""
    storage, queue = await open_queue(url)
    func: Any = (block if sync else io) if sleep else (flow_job(flow) if flow else noop)
    extra = {"s": sleep} if sleep else {}
    try:
        for start in range(0, n, 50_000):
            await queue.enqueue_many(func, [{"i": i, **extra} for i in range(start, min(n, start + 50_000))])
    finally:
        await storage.close()
    return {"jobs": n}


# -- W3/W6: drain -----------------------------------------------------------------------------
async def drain(url: str, n: int, concurrency: int = 0, flow: str = "") -> dict[str, Any]:
    """One worker, defaults (or ``concurrency``), burst mode: drain everything that is due; time and peak RSS."""
    if flow:
        flow_job(flow)
    storage, queue = await open_queue(url)
    try:
        rss_before = peak_rss_mb()
        worker = Worker(queue, concurrency=concurrency) if concurrency else Worker(queue)
        start = time.perf_counter()
        await worker.run(burst=True)
        elapsed = time.perf_counter() - start
        completed = worker.stats.completed
    finally:
        await storage.close()
    return {
        "jobs": completed,
        "seconds": elapsed,
        "rate": completed / elapsed,
        "rss_start_mb": rss_before,
        "peak_rss_mb": peak_rss_mb(),
        "concurrency": worker.concurrency,
    }


async def drain_gated(url: str, n: int) -> dict[str, Any]:
    """W7: one of several worker processes (defaults, burst) that start draining on the runner's word."""
    import resource
    import sys

    storage, queue = await open_queue(url)
    try:
        worker = Worker(queue)
        ready()
        await asyncio.to_thread(sys.stdin.readline)  # "GO": all processes start together
        usage = resource.getrusage(resource.RUSAGE_SELF)
        start = time.time()
        await worker.run(burst=True)
        end = time.time()
        after = resource.getrusage(resource.RUSAGE_SELF)
    finally:
        await storage.close()
    cpu = (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)
    return {"jobs": worker.stats.completed, "start": start, "end": end, "cpu_s": cpu}


async def flow(url: str, n: int) -> dict[str, Any]:
    """W11: ``n`` single enqueues while one worker (defaults) runs them; returns once all have run."""
    storage, queue = await open_queue(url)
    _runs.target = n
    try:
        worker = Worker(queue)
        await worker.start()
        start = time.perf_counter()
        for i in range(n):
            await queue.enqueue(noop, {"i": i})
        await wait_done(_runs.done, deadline_for(n), f"{n} jobs to run")
        elapsed = time.perf_counter() - start
        await worker.stop()
    finally:
        await storage.close()
    return {"jobs": _runs.total, "distinct": len(_runs.seen), "seconds": elapsed}


async def drain_count(url: str, n: int) -> dict[str, Any]:
    """One worker with defaults: time until ``n`` jobs completed, then stop (W5: backlog left)."""
    storage, queue = await open_queue(url)
    try:
        worker = Worker(queue)
        start = time.perf_counter()
        await worker.start()
        while worker.stats.completed < n:
            await asyncio.sleep(0.002)
        elapsed = time.perf_counter() - start
        await worker.stop()
    finally:
        await storage.close()
    return {"jobs": n, "seconds": elapsed, "rate": n / elapsed}


async def verify(url: str, n: int) -> dict[str, Any]:
    """Every job completed exactly once: status completed and attempts == 1, nothing else left."""
    storage, _ = await open_queue(url)
    try:
        async with storage.engine.connect() as conn:
            from sqlalchemy import text

            rows = (
                await conn.execute(text("SELECT status, attempts, COUNT(*) FROM dbjobq_jobs GROUP BY status, attempts"))
            ).all()
    finally:
        await storage.close()
    counts = {f"{status}/{attempts}": int(count) for status, attempts, count in rows}
    ok = counts.get("completed/1", 0) == n and sum(counts.values()) == n
    return {"ok": ok, "counts": counts}


# -- W4: latency ------------------------------------------------------------------------------
async def idle_worker(url: str, out: str) -> dict[str, Any]:
    """An idle worker (defaults) that records enqueue-to-start latencies until SIGTERM."""
    storage, queue = await open_queue(url)
    stop = asyncio.Event()
    install_term(asyncio.get_running_loop(), stop.set)
    worker = Worker(queue)
    await worker.start()
    ready()
    await stop.wait()
    await worker.stop()
    await storage.close()
    _latency.dump(out)
    return {"completed": worker.stats.completed}


async def latency_producer(url: str, n: int, interval: float) -> dict[str, Any]:
    """Enqueue ``n`` jobs, one every ``interval`` seconds, each carrying its enqueue time."""
    storage, queue = await open_queue(url)
    try:
        await queue.enqueue(noop, {"warm": 1})
        await asyncio.sleep(0.5)
        await paced(n, interval, lambda: queue.enqueue(noop, {"t": time.time()}))
        await asyncio.sleep(1.0)
    finally:
        await storage.close()
    return {"jobs": n}


async def latency_same_process(url: str, n: int, interval: float) -> dict[str, Any]:
    """W4 with the worker and the enqueuer sharing one JobQueue (in-process wake-up)."""
    storage, queue = await open_queue(url)
    try:
        worker = Worker(queue)
        await worker.start()
        await queue.enqueue(noop, {"warm": 1})
        await asyncio.sleep(0.5)
        await paced(n, interval, lambda: queue.enqueue(noop, {"t": time.time()}))
        deadline = time.time() + 10
        while len(_latency.values) < n and time.time() < deadline:
            await asyncio.sleep(0.01)
        await worker.stop()
    finally:
        await storage.close()
    return percentiles(_latency.values)


COMMANDS = {
    "enqueue_single": lambda a: enqueue_single(a.url, a.n),
    "enqueue_bulk": lambda a: enqueue_bulk(a.url, a.n),
    "fill": lambda a: fill(a.url, a.n, a.sleep, a.sync, a.flow),
    "drain": lambda a: drain(a.url, a.n, a.concurrency, a.flow),
    "drain_gated": lambda a: drain_gated(a.url, a.n),
    "flow": lambda a: flow(a.url, a.n),
    "drain_count": lambda a: drain_count(a.url, a.n),
    "verify": lambda a: verify(a.url, a.n),
    "idle_worker": lambda a: idle_worker(a.url, a.out),
    "latency_producer": lambda a: latency_producer(a.url, a.n, a.interval),
    "latency_same_process": lambda a: latency_same_process(a.url, a.n, a.interval),
}


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    if args.command in ("backlog", "explain"):
        from . import dbjobq_backlog

        emit(asyncio.run(dbjobq_backlog.COMMANDS[args.command](args)))
        return
    if args.command in ("soak", "soak_worker"):
        from . import dbjobq_soak

        emit(asyncio.run(dbjobq_soak.COMMANDS[args.command](args)))
        return
    emit(asyncio.run(COMMANDS[args.command](args)))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
