"""streaq on Redis (streams), with its defaults, through its documented API.

Run with bench/.venvs/streaq: ``python -m bench.workloads.streaq_queue CMD --url redis://127.0.0.1:6379/5``.
The Redis server here keeps nothing on disk (no RDB snapshots, no AOF).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from typing import Any

from streaq import Worker

from .common import Executions, LatencyRecorder, paced, ready, run_command, wait_done

_latency = LatencyRecorder()
_runs = Executions()
_warm = asyncio.Event()


def make_worker(url: str, **options: Any) -> Any:
    worker = Worker(redis_url=url, **options)

    @worker.task
    async def noop(i: int | None = None, t: float | None = None) -> None:
        """The no-op job (``t``: W4's enqueue time)."""
        if t is not None:
            _latency.record({"t": t})
        elif i is not None:
            _runs.started()
            _runs.finished(i)
        else:
            _warm.set()

    worker.noop = noop
    return worker


async def enqueue_single(url: str, n: int) -> dict[str, Any]:
    worker = make_worker(url)
    async with worker:
        await worker.noop.enqueue(i=-1)
        start = time.perf_counter()
        for i in range(n):
            await worker.noop.enqueue(i=i)
        elapsed = time.perf_counter() - start
    return {"jobs": n, "seconds": elapsed, "rate": n / elapsed}


async def enqueue_bulk(url: str, n: int) -> dict[str, Any]:
    """``Worker.enqueue_many``: one Redis pipeline."""
    worker = make_worker(url)
    async with worker:
        await worker.noop.enqueue(i=-1)
        start = time.perf_counter()
        await worker.enqueue_many([worker.noop.enqueue(i=i) for i in range(n)])
        elapsed = time.perf_counter() - start
    return {"jobs": n, "seconds": elapsed, "rate": n / elapsed}


async def fill(url: str, n: int) -> dict[str, Any]:
    worker = make_worker(url)
    async with worker:
        for start in range(0, n, 50_000):
            await worker.enqueue_many([worker.noop.enqueue(i=i) for i in range(start, min(n, start + 50_000))])
    return {"jobs": n}


async def drain(url: str, n: int) -> dict[str, Any]:
    """One worker with its defaults (concurrency 16) in burst mode: returns once the stream is empty."""
    worker = make_worker(url, handle_signals=False)
    worker.burst = True  # what ``streaq run --burst`` sets
    start = time.perf_counter()
    await worker.run_async()
    elapsed = time.perf_counter() - start
    return {**_runs.result(elapsed), "completed_counter": worker.counters.get("completed", 0)}


async def verify(url: str, n: int) -> dict[str, Any]:
    """Nothing left queued (stream and delayed set)."""
    worker = make_worker(url)
    async with worker:
        left = await worker.queue_size()
    return {"ok": left == 0, "counts": {"queued": left}}


async def idle_worker(url: str, out: str, n: int) -> dict[str, Any]:
    """An idle worker with defaults (a blocking XREADGROUP) recording latencies until SIGTERM."""
    worker = make_worker(url)
    running = asyncio.create_task(worker.run_async())
    producer = make_worker(url)
    async with producer:
        await producer.noop.enqueue()  # ready once a first job went through
    await wait_done(_warm, 60, "streaq's first job")
    # streaq handles SIGINT and SIGTERM itself (a graceful stop); SIGTERM is taken over here so the
    # producer's last jobs can start first, then SIGINT hands over to streaq's own shutdown.
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    ready()
    await stop.wait()
    await _latency.settle(n)
    os.kill(os.getpid(), signal.SIGINT)
    await running
    _latency.dump(out)
    return {"completed": len(_latency.values)}


async def latency_producer(url: str, n: int, interval: float) -> dict[str, Any]:
    worker = make_worker(url)
    async with worker:
        await paced(n, interval, lambda: worker.noop.enqueue(t=time.time()))
    return {"jobs": n}


COMMANDS = {
    "enqueue_single": lambda a: enqueue_single(a.url, a.n),
    "enqueue_bulk": lambda a: enqueue_bulk(a.url, a.n),
    "fill": lambda a: fill(a.url, a.n),
    "drain": lambda a: drain(a.url, a.n),
    "verify": lambda a: verify(a.url, a.n),
    "idle_worker": lambda a: idle_worker(a.url, a.out, a.n),
    "latency_producer": lambda a: latency_producer(a.url, a.n, a.interval),
}

if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    run_command(__doc__ or "", COMMANDS)
