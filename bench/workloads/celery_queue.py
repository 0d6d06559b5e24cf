"""Celery 5 on its Redis broker, with its defaults, through its documented API.

Run with bench/.venvs/celery: ``python -m bench.workloads.celery_queue CMD --url redis://127.0.0.1:6379/5``.

The worker is ``celery -A bench.workloads.celery_queue worker`` in a subprocess: the prefork pool
with one child per CPU (Celery's defaults), or ``-P gevent -c 200`` for W8 (the pool Celery's docs
name for I/O-bound tasks). There is no result backend. Completion is seen without asking Celery
about each job: every task, once its work is done, sends one pipelined Redis round trip from the
worker child (``INCR`` of a counter, ``SADD`` of its index for the exactly-once check); the task
that brings the counter to the target pushes a timestamp the runner waits for with ``BLPOP``. The
Redis server here keeps nothing on disk (no RDB snapshots, no AOF).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

import redis
from celery import Celery, group
from celery.signals import worker_ready

from .common import fail, install_term, paced, ready, run_command

# The benchmark's own Redis database (bench/databases.py reads the same variable).
BROKER = "redis://" + os.environ.get("DBJOBQ_BENCH_REDIS", "127.0.0.1:6379/5")
app = Celery("bench", broker=BROKER)

# Bookkeeping keys (in the benchmark's own Redis database, flushed before and after each run).
DONE, SEEN, TARGET, FIRST, FINISHED, LATENCY, READY = (
    "bench:done", "bench:seen", "bench:target", "bench:first", "bench:finished", "bench:latency", "bench:ready",
)
_client: tuple[int, redis.Redis, int] | None = None


def client() -> redis.Redis:
    """One Redis client per process (prefork children get their own after the fork)."""
    global _client
    if _client is None or _client[0] != os.getpid():
        r = redis.Redis.from_url(BROKER)
        r.set(FIRST, repr(time.time()), nx=True)
        _client = (os.getpid(), r, int(r.get(TARGET) or 0))
    return _client[1]


def mark(i: int) -> None:
    """A job's completion: one pipelined round trip; the target-th completion signals the runner."""
    r = client()
    assert _client is not None
    pipe = r.pipeline(transaction=False)
    pipe.incr(DONE)
    pipe.sadd(SEEN, i)
    count, _ = pipe.execute()
    if _client[2] and count == _client[2]:
        r.rpush(FINISHED, repr(time.time()))


@app.task(name="noop")
def noop(i: int | None = None, t: float | None = None) -> None:
    """The no-op job; with ``t`` (W4) it records enqueue-to-start latency."""
    if t is not None:
        latency = time.time() - t
        r = client()
        assert _client is not None
        if r.rpush(LATENCY, repr(latency)) == _client[2]:
            r.rpush(FINISHED, repr(time.time()))
    elif i is not None:
        mark(i)


@app.task(name="io")
def io(i: int, sleep: float) -> None:
    """W8's job: waits ``sleep`` seconds the way blocking I/O does (cooperative under gevent)."""
    client()  # the first start is stamped before the wait
    time.sleep(sleep)
    mark(i)


@worker_ready.connect
def _announce(**_: Any) -> None:
    redis.Redis.from_url(BROKER).rpush(READY, "1")


def _redis(url: str) -> redis.Redis:
    if url != BROKER:
        fail(f"the Celery app's broker is {BROKER}, the runner's Redis is {url}: set DBJOBQ_BENCH_REDIS for both")
    return redis.Redis.from_url(url, socket_timeout=None)  # BLPOP waits longer than the default


def start_worker(pool: str = "", concurrency: int = 0) -> subprocess.Popen[bytes]:
    """``celery worker`` in a subprocess (``python -m celery``, so ``-P gevent`` patches before imports)."""
    args = [sys.executable, "-m", "celery", "-A", "bench.workloads.celery_queue", "worker", "--loglevel", "WARNING"]
    if pool:
        args += ["--pool", pool]
    if concurrency:
        args += ["--concurrency", str(concurrency)]
    return subprocess.Popen(args, stdout=subprocess.DEVNULL)


def stop_worker(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)  # warm shutdown
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_ready(r: redis.Redis, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    if r.blpop([READY], timeout=timeout) is None:
        stop_worker(proc)
        fail("celery worker did not become ready")


# -- W1/W2 --------------------------------------------------------------------------------------
async def enqueue_single(url: str, n: int) -> dict[str, Any]:
    _redis(url)
    noop.delay(-1)  # connects the producer
    start = time.perf_counter()
    for i in range(n):
        noop.delay(i)
    elapsed = time.perf_counter() - start
    return {"jobs": n, "seconds": elapsed, "rate": n / elapsed}


async def enqueue_bulk(url: str, n: int) -> dict[str, Any]:
    """Celery has no bulk publish: a ``group`` is its documented way to send many tasks at once."""
    _redis(url)
    noop.delay(-1)
    start = time.perf_counter()
    group(noop.s(i) for i in range(n)).apply_async()
    elapsed = time.perf_counter() - start
    return {"jobs": n, "seconds": elapsed, "rate": n / elapsed}


async def fill(url: str, n: int, sleep: float = 0.0) -> dict[str, Any]:
    r = _redis(url)
    r.delete(DONE, SEEN, FIRST, FINISHED)
    r.set(TARGET, n)
    if n:
        group((io.s(i, sleep) if sleep else noop.s(i)) for i in range(n)).apply_async()
    return {"jobs": n}


# -- W3/W8: drain -------------------------------------------------------------------------------
async def drain(url: str, n: int, concurrency: int = 0, sleep: float = 0.0) -> dict[str, Any]:
    """Start a worker on the filled queue; time from the first task's start to the n-th completion."""
    r = _redis(url)
    pool = "gevent" if sleep else ""
    launched = time.time()
    proc = start_worker(pool, concurrency)
    try:
        reply = r.blpop([FINISHED], timeout=120 + n / 50 + n * sleep)
        if reply is None:
            fail(f"celery drained {int(r.get(DONE) or 0)} of {n} jobs before the deadline")
        finished = float(reply[1])
    finally:
        stop_worker(proc)
    first = float(r.get(FIRST) or launched)
    executions, distinct = int(r.get(DONE) or 0), int(r.scard(SEEN))
    elapsed = finished - first
    return {"jobs": executions, "distinct": distinct, "seconds": elapsed, "rate": executions / elapsed,
            "startup_s": first - launched, "pool": pool or "prefork", "concurrency": concurrency or os.cpu_count()}


async def verify(url: str, n: int) -> dict[str, Any]:
    """Every task ran once (counter and distinct indexes) and nothing is left in the queue."""
    r = _redis(url)
    counts = {"done": int(r.get(DONE) or 0), "distinct": int(r.scard(SEEN)), "queued": int(r.llen("celery")),
              "unacked": int(r.hlen("unacked"))}
    ok = counts["done"] == n and counts["distinct"] == n and counts["queued"] == 0 and counts["unacked"] == 0
    return {"ok": ok, "counts": counts}


# -- W4 -----------------------------------------------------------------------------------------
async def idle_worker(url: str, out: str, n: int) -> dict[str, Any]:
    """Run an idle prefork worker until SIGTERM; the latencies its tasks pushed go to ``out``."""
    r = _redis(url)
    r.set(TARGET, n)  # read by each child at its first task: the n-th latency signals FINISHED
    proc = start_worker()
    wait_ready(r, proc)
    stop = asyncio.Event()
    install_term(asyncio.get_running_loop(), stop.set)
    ready()
    await stop.wait()
    # The producer's last tasks may still be starting: wait for the n-th, with a deadline.
    r.blpop([FINISHED], timeout=10)
    stop_worker(proc)
    values = [float(v) for v in r.lrange(LATENCY, 0, -1)]
    with open(out, "w") as fh:
        json.dump(values, fh)
    return {"completed": len(values)}


async def latency_producer(url: str, n: int, interval: float) -> dict[str, Any]:
    _redis(url)
    noop.delay(-1)

    async def send() -> None:
        noop.delay(t=time.time())

    await paced(n, interval, send)
    return {"jobs": n}


COMMANDS = {
    "enqueue_single": lambda a: enqueue_single(a.url, a.n),
    "enqueue_bulk": lambda a: enqueue_bulk(a.url, a.n),
    "fill": lambda a: fill(a.url, a.n, a.sleep),
    "drain": lambda a: drain(a.url, a.n, a.concurrency, a.sleep),
    "verify": lambda a: verify(a.url, a.n),
    "idle_worker": lambda a: idle_worker(a.url, a.out, a.n),
    "latency_producer": lambda a: latency_producer(a.url, a.n, a.interval),
}

if __name__ == "__main__":
    run_command(__doc__ or "", COMMANDS)
