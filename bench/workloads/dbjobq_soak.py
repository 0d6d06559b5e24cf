"""W10 soak for DBJobQ on PostgreSQL: a steady enqueue rate for a long time, retention on.

``soak`` runs the producer (single enqueues started on a fixed schedule) and a sampler in this process and one worker
(defaults, plus ``--retention``) in another. The worker keeps only the current minute's latencies
and folds them into p50/p99 at each minute's end, so its own memory stays what the engine uses.
The sampler reads the jobs table's statistics (pg_stat_user_tables) and sizes
(pg_total_relation_size) and the worker's RSS (/proc) every few seconds.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from array import array
from pathlib import Path
from typing import Any

import asyncpg

from dbjobq import Worker

from . import dbjobq_current
from .common import install_term, paced, percentiles, ready

#: Concurrent enqueues the soak's producer allows itself.
PRODUCERS = 8


class MinuteLatency:
    """Enqueue-to-start latencies folded into p50/p99 per minute of the run (bounded memory)."""

    def __init__(self) -> None:
        self.t0 = 0.0
        self.minute = 0
        self.values = array("d")
        self.minutes: list[dict[str, Any]] = []

    def record(self, data: dict[str, Any]) -> None:
        if "t" not in data:
            return
        now = time.time()
        if not self.t0:
            self.t0 = now
        minute = int((now - self.t0) // 60)
        if minute != self.minute:
            self.fold()
            self.minute = minute
        self.values.append(now - float(data["t"]))

    def fold(self) -> None:
        if self.values:
            self.minutes.append({"minute": self.minute, **percentiles(list(self.values))})
        self.values = array("d")


async def soak_worker(args: Any) -> dict[str, Any]:
    """The worker process: defaults, ``--retention`` seconds; dumps the per-minute latencies on SIGTERM."""
    recorder = MinuteLatency()
    dbjobq_current._latency = recorder  # type: ignore[assignment]  # the no-op job records into it
    storage, queue = await dbjobq_current.open_queue(args.url)
    stop = asyncio.Event()
    install_term(asyncio.get_running_loop(), stop.set)
    worker = Worker(queue, retention=args.retention) if args.retention else Worker(queue)
    await worker.start()
    ready()
    await stop.wait()
    await worker.stop()
    await storage.close()
    recorder.fold()
    Path(args.out).write_text(json.dumps(recorder.minutes))
    return {"completed": worker.stats.completed}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


STATS_SQL = (
    "SELECT n_live_tup, n_dead_tup, autovacuum_count, pg_relation_size(relid) AS heap, "
    "pg_indexes_size(relid) AS indexes, pg_total_relation_size(relid) AS total "
    "FROM pg_stat_user_tables WHERE relname = 'dbjobq_jobs'"
)


async def sample(url: str, pid: int, started: float, every: float, samples: list[dict[str, Any]],
                 stop: asyncio.Event) -> None:
    """Every ``every`` seconds until ``stop``: table statistics and sizes, pending rows, worker RSS."""
    conn = await asyncpg.connect(url)
    try:
        while True:
            await conn.execute("SELECT pg_stat_clear_snapshot()")
            row = await conn.fetchrow(STATS_SQL)
            pending = await conn.fetchval("SELECT count(*) FROM dbjobq_jobs WHERE status = 'pending'")
            samples.append({
                "t": time.time() - started, "live_tuples": row["n_live_tup"], "dead_tuples": row["n_dead_tup"],
                "autovacuums": row["autovacuum_count"], "heap_bytes": row["heap"], "index_bytes": row["indexes"],
                "total_bytes": row["total"], "pending": pending, "worker_rss_mb": rss_mb(pid),
            })
            try:
                await asyncio.wait_for(stop.wait(), every)
                return
            except asyncio.TimeoutError:
                pass
    finally:
        await conn.close()


async def soak(args: Any) -> dict[str, Any]:
    """Enqueue ``--rate`` jobs/s for ``--duration`` s; write the series to ``--out``; return a summary."""
    storage, queue = await dbjobq_current.open_queue(args.url)
    latencies_path = args.out + ".minutes"
    worker = subprocess.Popen(
        [sys.executable, "-m", "bench.workloads.dbjobq_current", "soak_worker", "--url", args.url,
         "--retention", str(args.retention), "--out", latencies_path],
        stdout=subprocess.PIPE, text=True,
    )
    samples: list[dict[str, Any]] = []
    stop = asyncio.Event()
    try:
        assert worker.stdout is not None
        if "READY" not in worker.stdout.readline():
            raise RuntimeError("the soak worker did not start")
        started = time.time()
        every = max(5.0, args.duration / 180)
        sampler = asyncio.create_task(sample(args.url, worker.pid, started, every, samples, stop))
        n = int(args.rate * args.duration)
        # Enqueues start on schedule without waiting for the one before (as concurrent web requests
        # would), so one slow commit does not lower the rate; at most PRODUCERS are in flight, so a
        # server that cannot keep up lowers the achieved rate instead of queueing enqueues here
        # (whose wait would count as queue latency).
        inflight: set[asyncio.Task[str]] = set()
        slots = asyncio.Semaphore(PRODUCERS)

        async def one() -> str:
            try:
                return await queue.enqueue(dbjobq_current.noop, {"t": time.time()})
            finally:
                slots.release()

        async def send() -> None:
            await slots.acquire()
            task = asyncio.create_task(one())
            inflight.add(task)
            task.add_done_callback(inflight.discard)

        await paced(n, 1.0 / args.rate, send)
        await asyncio.gather(*inflight)
        enqueued_s = time.time() - started
        stop.set()
        await sampler
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=120)
        await storage.close()
    minutes = json.loads(Path(latencies_path).read_text())
    Path(latencies_path).unlink()
    Path(args.out).write_text(json.dumps({"minutes": minutes, "samples": samples}))
    first, last = samples[0], samples[-1]
    return {
        "jobs": n, "achieved_rate": n / enqueued_s, "duration_s": enqueued_s, "retention_s": args.retention,
        "samples": len(samples), "minutes": len(minutes),
        "p50_ms_last_minute": minutes[-1]["p50_ms"] if minutes else None,
        "p99_ms_max_minute": max((m["p99_ms"] for m in minutes), default=None),
        "dead_tuples_end": last["dead_tuples"], "total_mb_start": first["total_bytes"] / 2**20,
        "total_mb_end": last["total_bytes"] / 2**20, "rss_mb_start": first["worker_rss_mb"],
        "rss_mb_end": last["worker_rss_mb"], "rss_mb_max": max(s["worker_rss_mb"] for s in samples),
    }


COMMANDS = {"soak": soak, "soak_worker": soak_worker}
