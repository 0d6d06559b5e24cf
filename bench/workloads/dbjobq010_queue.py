"""dbjobq 0.1.0 (the last release, from PyPI) through its public API, on PostgreSQL or SQLite.

Run with bench/.venvs/dbjobq010: ``python -m bench.workloads.dbjobq010_queue CMD --url URL``.
0.1.0 has no bulk enqueue, no burst mode and runs one job at a time.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Any

from sqlalchemy import text

from dbjobq import JobQueue, Worker, job
from dbjobq.storage import SQLAlchemyStorage

from .common import LatencyRecorder, emit, install_term, paced, peak_rss_mb, ready, run_command

_latency = LatencyRecorder()
_seen: dict[int, int] = {}


@job()
async def noop(data: dict[str, Any]) -> None:
    if isinstance(data, str):
        data = json.loads(data)
    key = data.get("i")
    if key is not None:
        _seen[key] = _seen.get(key, 0) + 1
    _latency.record(data)


def async_url(url: str) -> str:
    scheme, rest = url.split("://", 1)
    return f"{ {'postgresql': 'postgresql+asyncpg', 'sqlite': 'sqlite+aiosqlite'}[scheme] }://{rest}"


async def open_queue(url: str) -> tuple[SQLAlchemyStorage, JobQueue]:
    storage = SQLAlchemyStorage(async_url(url))
    await storage.initialize()
    return storage, JobQueue(storage)


async def enqueue_single(url: str, n: int) -> dict[str, Any]:
    storage, queue = await open_queue(url)
    try:
        await queue.enqueue(noop, {"w": -1})
        start = time.perf_counter()
        for i in range(n):
            await queue.enqueue(noop, {"i": i})
        elapsed = time.perf_counter() - start
    finally:
        await storage.close()
    return {"jobs": n, "seconds": elapsed, "rate": n / elapsed}


async def fill(url: str, n: int) -> dict[str, Any]:
    """No bulk API in 0.1.0: one enqueue per job, running 20 at a time (not timed)."""
    storage, queue = await open_queue(url)
    try:
        for start in range(0, n, 20):
            await asyncio.gather(*(queue.enqueue(noop, {"i": i}) for i in range(start, min(n, start + 20))))
    finally:
        await storage.close()
    return {"jobs": n}


async def _completed(storage: SQLAlchemyStorage) -> int:
    async with storage.engine.connect() as conn:
        return int((await conn.execute(text("SELECT count(*) FROM jobs WHERE status = 'completed'"))).scalar() or 0)


async def drain(url: str, n: int) -> dict[str, Any]:
    """The worker with its defaults, until ``n`` jobs completed (0.1.0 has no burst mode)."""
    storage, queue = await open_queue(url)
    try:
        worker = Worker(queue)
        start = time.perf_counter()
        await worker.start()
        while len(_seen) < n:
            await asyncio.sleep(0.01)
        while await _completed(storage) < n:
            await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - start
    finally:
        await storage.close()
    executions = sum(_seen.values())
    # Worker.stop() waits for its schedule poller's 60 s sleep: report and exit instead.
    emit({"jobs": executions, "distinct": len(_seen), "seconds": elapsed, "rate": n / elapsed,
          "peak_rss_mb": peak_rss_mb()})
    os._exit(0)


async def verify(url: str, n: int) -> dict[str, Any]:
    storage, _ = await open_queue(url)
    try:
        async with storage.engine.connect() as conn:
            rows = (await conn.execute(text("SELECT status, count(*) FROM jobs GROUP BY status"))).all()
    finally:
        await storage.close()
    counts = {str(status): int(count) for status, count in rows}
    return {"ok": counts.get("completed", 0) == n and sum(counts.values()) == n, "counts": counts}


async def idle_worker(url: str, out: str) -> dict[str, Any]:
    _, queue = await open_queue(url)
    worker = Worker(queue)
    stop = asyncio.Event()
    install_term(asyncio.get_running_loop(), stop.set)
    await worker.start()
    ready()
    await stop.wait()
    _latency.dump(out)  # Worker.stop() would wait for its schedule poller's 60 s sleep
    emit({"completed": len(_latency.values)})
    os._exit(0)


async def latency_producer(url: str, n: int, interval: float) -> dict[str, Any]:
    storage, queue = await open_queue(url)
    try:
        await queue.enqueue(noop, {"w": 1})
        await asyncio.sleep(0.5)
        await paced(n, interval, lambda: queue.enqueue(noop, {"t": time.time()}))
        await asyncio.sleep(11.0)  # its idle poll backs off to 10 s
    finally:
        await storage.close()
    return {"jobs": n}


COMMANDS = {
    "enqueue_single": lambda a: enqueue_single(a.url, a.n),
    "fill": lambda a: fill(a.url, a.n),
    "drain": lambda a: drain(a.url, a.n),
    "verify": lambda a: verify(a.url, a.n),
    "idle_worker": lambda a: idle_worker(a.url, a.out),
    "latency_producer": lambda a: latency_producer(a.url, a.n, a.interval),
}

if __name__ == "__main__":
    run_command(__doc__ or "", COMMANDS)
