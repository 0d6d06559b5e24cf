"""SAQ on its PostgreSQL backend, with its defaults, through its documented API.

Run with bench/.venvs/saq: ``python -m bench.workloads.saq_queue CMD --url postgresql://…``.
SAQ has no bulk enqueue: W2 sends the jobs concurrently with ``asyncio.gather`` over
``Queue.enqueue``, as SAQ's own ``Queue.map`` does (its pool holds up to 20 connections), in waves
of 1,000: all 50,000 at once wait longer than the pool's 30 s timeout.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from typing import Any

import psycopg
from saq import Queue, Worker

from .common import Executions, LatencyRecorder, deadline_for, paced, ready, run_command, wait_done

_latency = LatencyRecorder()
_runs = Executions()
#: Concurrent enqueues in flight at once (W2 and fills): far more than the pool's 20 connections.
WAVE = 1_000


async def noop(ctx: dict[str, Any], *, i: int | None = None, t: float | None = None) -> None:
    """The no-op job (``t``: W4's enqueue time)."""
    if t is not None:
        _latency.record({"t": t})
    elif i is not None:
        _runs.started()
        _runs.finished(i)


async def open_queue(url: str) -> Queue:
    queue = Queue.from_url(url)
    await queue.connect()  # creates SAQ's tables (migrations) when missing
    return queue


async def enqueue_single(url: str, n: int) -> dict[str, Any]:
    queue = await open_queue(url)
    try:
        await queue.enqueue("noop", i=-1)
        start = time.perf_counter()
        for i in range(n):
            await queue.enqueue("noop", i=i)
        elapsed = time.perf_counter() - start
    finally:
        await queue.disconnect()
    return {"jobs": n, "seconds": elapsed, "rate": n / elapsed}


async def enqueue_bulk(url: str, n: int) -> dict[str, Any]:
    queue = await open_queue(url)
    try:
        await queue.enqueue("noop", i=-1)
        start = time.perf_counter()
        sent = 0
        for first in range(0, n, WAVE):
            jobs = await asyncio.gather(*(queue.enqueue("noop", i=i) for i in range(first, min(n, first + WAVE))))
            sent += sum(1 for j in jobs if j is not None)
        elapsed = time.perf_counter() - start
        assert sent == n
    finally:
        await queue.disconnect()
    return {"jobs": n, "seconds": elapsed, "rate": n / elapsed}


async def fill(url: str, n: int) -> dict[str, Any]:
    queue = await open_queue(url)
    try:
        for start in range(0, n, WAVE):
            await asyncio.gather(*(queue.enqueue("noop", i=i) for i in range(start, min(n, start + WAVE))))
    finally:
        await queue.disconnect()
    return {"jobs": n}


async def drain(url: str, n: int) -> dict[str, Any]:
    """One worker with its defaults (concurrency 10), until the n-th job finished (outcome written)."""
    queue = await open_queue(url)
    _runs.target = n
    finished = asyncio.Event()
    recorded = [0]

    async def after(_ctx: dict[str, Any]) -> None:  # runs once the job's outcome is written
        recorded[0] += 1
        if recorded[0] >= n:  # counting executions instead would stop with outcomes still in flight
            finished.set()

    worker = Worker(queue, functions=[noop], after_process=[after])
    start = time.perf_counter()
    running = asyncio.create_task(worker.start())
    try:
        await wait_done(finished, deadline_for(n), f"saq to finish {n} jobs")
        elapsed = time.perf_counter() - start
    finally:
        # SAQ's stop once hung here for minutes after every outcome was written (seen in 1 of 6
        # full-size drains): the measurement is done, so the clean-up gets a deadline.
        try:
            await asyncio.wait_for(_stop(worker, running, queue), 30)
        except asyncio.TimeoutError:
            print("saq: worker stop did not finish within 30 s", file=sys.stderr, flush=True)
    return _runs.result(elapsed)


async def _stop(worker: Worker, running: asyncio.Task[None], queue: Queue) -> None:
    await worker.stop()
    await running
    await queue.disconnect()


async def verify(url: str, n: int) -> dict[str, Any]:
    """Every job is 'complete' in saq_jobs (completed jobs stay for their ttl, 600 s by default)."""
    async with await psycopg.AsyncConnection.connect(url) as conn:
        rows = await (await conn.execute("SELECT status, count(*) FROM saq_jobs GROUP BY 1")).fetchall()
    counts = {str(status): int(count) for status, count in rows}
    return {"ok": counts.get("complete", 0) == n and sum(counts.values()) == n, "counts": counts}


async def idle_worker(url: str, out: str, n: int) -> dict[str, Any]:
    """An idle worker with defaults (LISTEN/NOTIFY wake-ups) recording latencies until SIGTERM."""
    queue = await open_queue(url)
    warmed = asyncio.Event()

    async def after(_ctx: dict[str, Any]) -> None:
        warmed.set()

    worker = Worker(queue, functions=[noop], after_process=[after])
    stop = asyncio.Event()
    worker_task = asyncio.create_task(worker.start())
    await queue.enqueue("noop")  # ready once a first job went through
    await wait_done(warmed, 60, "saq's first job")
    loop = asyncio.get_running_loop()
    import signal

    loop.add_signal_handler(signal.SIGTERM, stop.set)  # replaces SAQ's handler: settle first, then stop
    ready()
    await stop.wait()
    await _latency.settle(n)
    await worker.stop()
    await worker_task
    await queue.disconnect()
    _latency.dump(out)
    return {"completed": len(_latency.values)}


async def latency_producer(url: str, n: int, interval: float) -> dict[str, Any]:
    queue = await open_queue(url)
    try:
        await queue.enqueue("noop")
        await paced(n, interval, lambda: queue.enqueue("noop", t=time.time()))
    finally:
        await queue.disconnect()
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
    run_command(__doc__ or "", COMMANDS, hard_exit=True)
