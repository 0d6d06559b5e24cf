"""procrastinate (PostgreSQL only) with its defaults, through its documented API.

Run with bench/.venvs/procrastinate: ``python -m bench.workloads.procrastinate_queue CMD --url postgresql://…``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import procrastinate
import psycopg

from .common import LatencyRecorder, deadline_for, paced, peak_rss_mb, ready, run_command, wait_done

_latency = LatencyRecorder()
_seen: dict[int, int] = {}
_flow = {"target": 0, "ran": 0}  # W11: ``_done`` is set once ``ran`` reaches ``target``
_done = asyncio.Event()
_url = ""


def make_app(url: str) -> procrastinate.App:
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=url))

    @app.task(name="noop", pass_context=True)
    async def noop(context: procrastinate.JobContext, i: int | None = None, t: float | None = None, **_: Any) -> None:
        job_id = context.job.id
        if job_id is not None:
            _seen[job_id] = _seen.get(job_id, 0) + 1
            _flow["ran"] += 1
            if _flow["target"] and _flow["ran"] >= _flow["target"]:
                _done.set()
        if t is not None:
            _latency.record({"t": t})

    app.noop = noop  # type: ignore[attr-defined]
    return app


async def ensure_schema(url: str) -> None:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        installed = await (await conn.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")).fetchone()
    if installed and installed[0]:
        return
    app = make_app(url)
    async with app.open_async():
        await app.schema_manager.apply_schema_async()


async def enqueue_single(url: str, n: int) -> dict[str, Any]:
    await ensure_schema(url)
    app = make_app(url)
    async with app.open_async():
        await app.noop.defer_async(i=-1)
        start = time.perf_counter()
        for i in range(n):
            await app.noop.defer_async(i=i)
        elapsed = time.perf_counter() - start
    return {"jobs": n, "seconds": elapsed, "rate": n / elapsed}


async def enqueue_bulk(url: str, n: int) -> dict[str, Any]:
    await ensure_schema(url)
    app = make_app(url)
    async with app.open_async():
        start = time.perf_counter()
        ids = await app.noop.batch_defer_async(*[{"i": i} for i in range(n)])
        elapsed = time.perf_counter() - start
        assert len(ids) == n
    return {"jobs": n, "seconds": elapsed, "rate": n / elapsed}


async def fill(url: str, n: int) -> dict[str, Any]:
    await ensure_schema(url)
    app = make_app(url)
    async with app.open_async():
        for start in range(0, n, 50_000):
            await app.noop.batch_defer_async(*[{"i": i} for i in range(start, min(n, start + 50_000))])
    return {"jobs": n}


async def drain(url: str, n: int) -> dict[str, Any]:
    """One worker with its defaults (concurrency 1), ``wait=False``: returns once the queue is empty."""
    app = make_app(url)
    async with app.open_async():
        start = time.perf_counter()
        await app.run_worker_async(wait=False)
        elapsed = time.perf_counter() - start
    executions = sum(_seen.values())
    return {
        "jobs": executions,
        "distinct": len(_seen),
        "seconds": elapsed,
        "rate": executions / elapsed,
        "peak_rss_mb": peak_rss_mb(),
    }


async def verify(url: str, n: int) -> dict[str, Any]:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        rows = await (
            await conn.execute("SELECT status::text, attempts, count(*) FROM procrastinate_jobs GROUP BY 1, 2")
        ).fetchall()
    counts = {f"{status}/{attempts}": int(count) for status, attempts, count in rows}
    succeeded = sum(v for k, v in counts.items() if k.startswith("succeeded/"))
    return {"ok": succeeded == n and sum(counts.values()) == n, "counts": counts}


async def flow(url: str, n: int) -> dict[str, Any]:
    """W11: ``n`` single defers while one worker (defaults) runs them; returns once all have run."""
    await ensure_schema(url)
    _flow["target"] = n
    app = make_app(url)
    async with app.open_async():
        worker = asyncio.create_task(app.run_worker_async())
        start = time.perf_counter()
        for i in range(n):
            await app.noop.defer_async(i=i)
        try:
            await wait_done(_done, deadline_for(n), f"{n} jobs to run")
        finally:
            elapsed = time.perf_counter() - start
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
    return {"jobs": sum(_seen.values()), "distinct": len(_seen), "seconds": elapsed}


async def idle_worker(url: str, out: str) -> dict[str, Any]:
    await ensure_schema(url)
    app = make_app(url)
    async with app.open_async():
        worker = asyncio.create_task(app.run_worker_async())  # stops on SIGTERM itself
        await asyncio.sleep(1.0)
        ready()
        with contextlib.suppress(asyncio.CancelledError):
            await worker
    _latency.dump(out)
    return {"completed": len(_latency.values)}


async def latency_producer(url: str, n: int, interval: float) -> dict[str, Any]:
    await ensure_schema(url)
    app = make_app(url)
    async with app.open_async():
        await app.noop.defer_async(i=-1)
        await asyncio.sleep(0.5)
        await paced(n, interval, lambda: app.noop.defer_async(t=time.time()))
        await asyncio.sleep(1.0)
    return {"jobs": n}


COMMANDS = {
    "enqueue_single": lambda a: enqueue_single(a.url, a.n),
    "enqueue_bulk": lambda a: enqueue_bulk(a.url, a.n),
    "fill": lambda a: fill(a.url, a.n),
    "drain": lambda a: drain(a.url, a.n),
    "verify": lambda a: verify(a.url, a.n),
    "flow": lambda a: flow(a.url, a.n),
    "idle_worker": lambda a: idle_worker(a.url, a.out),
    "latency_producer": lambda a: latency_producer(a.url, a.n, a.interval),
}

if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    run_command(__doc__ or "", COMMANDS)
