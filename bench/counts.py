"""Job counts on a big table: 1,000,000 finished + 100,000 pending jobs, idle and under load.

    .venv/bin/python -m bench.counts                                  # all three databases
    .venv/bin/python -m bench.counts --databases postgresql --finished 200000

Times the exact per-(queue, status) scan (``JobQueue.job_counts(count_cap=None)``, what ``dbjobq
stats`` and the FastAPI router used before) against the bounded counts they use now
(``job_counts()``: pending and running exact from the indexes, finished statuses capped), first on
an idle table, then while a worker in another process drains the pending jobs (concurrency 16,
no-op jobs) and a producer adds 500 jobs/s. Median and slowest of ``--runs`` calls after one
warm-up. PostgreSQL is filled in SQL (``bench.dashboard_data``), MariaDB and SQLite with batched
inserts. Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench import databases
from bench.dashboard_data import QUEUES, TYPES, fill

_BATCH = 20_000
ROOT = Path(__file__).resolve().parents[1]


def _async_url(url: str) -> str:
    for plain, driver in (("postgresql://", "postgresql+asyncpg://"), ("mysql://", "mysql+aiomysql://"),
                          ("sqlite://", "sqlite+aiosqlite://")):
        if url.startswith(plain):
            return driver + url[len(plain):]
    raise ValueError(url)


def _row(g: int, now: float, *, finished: bool, total: int) -> dict[str, Any]:
    if finished:
        created = now - 7 * 86400 + g * 7 * 86400 / total
        status = "cancelled" if g % 100 == 0 else "failed" if g % 50 == 1 else "completed"
        started, done, due = created + 1, created + 2, created
    else:
        created = now - 3600 + g * 3600 / total
        status, started, done = "pending", None, None
        due = now + g % 86400 if g % 10 == 0 else created
    return {
        "id": f"{int(created * 1000):012x}-{'f' if finished else 'p'}{g:023d}"[:36],
        "type": TYPES[(g // 7) % len(TYPES)], "queue": QUEUES[g % len(QUEUES)], "data": '{"user_id": 1}',
        "status": status, "priority": 0, "attempts": 1 if finished else 0, "max_retries": 0,
        "created_at": created, "updated_at": created, "execute_at": due, "started_at": started,
        "finished_at": done,
    }  # fmt: skip


async def fill_generic(url: str, *, finished: int, pending: int) -> float:
    """Fill a MariaDB or SQLite database with batched inserts; returns the seconds it took."""
    from sqlalchemy import text

    from dbjobq.storage import SQLAlchemyStorage
    from dbjobq.storage.schema import jobs

    start, now = time.perf_counter(), time.time()
    storage = SQLAlchemyStorage(url)
    await storage.initialize()
    try:
        for kind, total in ((True, finished), (False, pending)):
            for first in range(1, total + 1, _BATCH):
                rows = [_row(g, now, finished=kind, total=total) for g in range(first, min(first + _BATCH, total + 1))]
                async with storage.engine.begin() as conn:
                    await conn.execute(jobs.insert(), rows)
        async with storage.engine.begin() as conn:
            await conn.execute(text("ANALYZE TABLE dbjobq_jobs" if url.startswith("mysql") else "ANALYZE"))
    finally:
        await storage.close()
    return time.perf_counter() - start


async def _time(call: Callable[[], Awaitable[object]], runs: int) -> tuple[float, float]:
    await call()  # warm-up: plans and pool
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        await call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), max(times)


async def measure(url: str, runs: int) -> list[tuple[str, float, float]]:
    """(what, median ms, slowest ms) for the exact and the bounded counts, idle and under load (a worker
    in another process, so that its event loop does not delay the timed calls)."""
    from dbjobq import JobQueue
    from dbjobq.storage import SQLAlchemyStorage

    storage = SQLAlchemyStorage(url)
    await storage.initialize()
    queue = JobQueue(storage)
    results = []
    try:
        for load in ("idle", "under load"):
            worker = None
            if load == "under load":
                worker = subprocess.Popen([sys.executable, "-m", "bench.counts", "--worker", url], cwd=ROOT)
                await asyncio.sleep(3)  # let the drain reach its pace before timing
            try:
                results.append((f"exact scan, {load}", *await _time(lambda: queue.job_counts(count_cap=None), runs)))
                results.append((f"job_counts(), {load}", *await _time(queue.job_counts, runs)))
            finally:
                if worker is not None:
                    worker.terminate()
                    worker.wait()
    finally:
        await storage.close()
    return results


async def run_worker(url: str) -> None:
    """The load, until terminated: a worker draining the pending jobs (no-op jobs, concurrency 16) and
    a producer adding 500 jobs/s (50 every 0.1 s), so rows keep changing however small the backlog."""
    from dbjobq import JobQueue, Worker, job
    from dbjobq.storage import SQLAlchemyStorage

    for name in TYPES:
        job(name=name)(_noop)
    async with SQLAlchemyStorage(url) as storage:
        queue = JobQueue(storage)

        async def produce() -> None:
            while True:
                await queue.enqueue_many(TYPES[0], [{}] * 50, queue=QUEUES[0])
                await asyncio.sleep(0.1)

        producer = asyncio.ensure_future(produce())
        try:
            await Worker(queue, concurrency=16, poll_interval=0.05).run()
        finally:
            producer.cancel()


async def _noop(data: Any) -> None:
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", default="postgresql,mysql,sqlite")
    parser.add_argument("--finished", type=int, default=1_000_000)
    parser.add_argument("--pending", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--worker", metavar="URL", help=argparse.SUPPRESS)  # the load, in its own process
    args = parser.parse_args()
    if args.worker:
        asyncio.run(run_worker(args.worker))
        return
    for database in args.databases.split(","):
        made = databases.create(database)
        url = _async_url(made)
        try:
            print(f"{database}: filling {args.finished:,} finished + {args.pending:,} pending jobs …", flush=True)
            filler = fill if database == "postgresql" else fill_generic
            print(f"  filled in {asyncio.run(filler(url, finished=args.finished, pending=args.pending)):.0f} s")
            print(f"  {'count':<28} {'median ms':>10} {'slowest ms':>11}")
            for name, median, slowest in asyncio.run(measure(url, args.runs)):
                print(f"  {name:<28} {median:>10.1f} {slowest:>11.1f}", flush=True)
        finally:
            databases.drop(made)


if __name__ == "__main__":
    main()
