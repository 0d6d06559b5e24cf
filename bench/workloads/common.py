"""Helpers shared by the workload scripts (standard library only: they run in every virtualenv)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any


def parser(description: str) -> argparse.ArgumentParser:
    """The command line every workload script takes."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("command")
    p.add_argument("--url", required=True, help="plain database URL (postgresql://…, sqlite:///…, mysql://…)")
    p.add_argument("--n", type=int, default=0)
    p.add_argument("--finished", type=int, default=0)
    p.add_argument("--interval", type=float, default=0.02)
    p.add_argument("--out", default="")
    p.add_argument("--concurrency", type=int, default=0, help="0: the system's default")
    p.add_argument("--sleep", type=float, default=0.0, help="seconds each job waits (0: a no-op job)")
    p.add_argument("--sync", action="store_true", help="jobs block (time.sleep) instead of awaiting")
    p.add_argument("--rate", type=float, default=300.0, help="W10: jobs enqueued per second")
    p.add_argument("--duration", type=float, default=60.0, help="W10: seconds of steady load")
    p.add_argument("--retention", type=float, default=0.0, help="W10: retention age in seconds (0: default)")
    p.add_argument(
        "--flow", default="", help="W3 variants (DBJobQ): keys50 (50 concurrency keys x limit 1), rate1000 (1,000/s)"
    )
    return p


def emit(result: dict[str, Any]) -> None:
    """Print the result as the last stdout line (what the runner reads)."""
    print(json.dumps(result), flush=True)


def run_command(
    doc: str,
    commands: dict[str, Callable[[argparse.Namespace], Awaitable[dict[str, Any]]]],
    *,
    hard_exit: bool = False,
) -> None:
    """A workload script's entry point: parse the command line, run that command, emit its result.

    ``hard_exit``: leave with ``os._exit`` once the result is out, without waiting for tasks the
    library under test left behind (a system whose shutdown can hang must not hang the benchmark).
    """
    args = parser(doc).parse_args()
    if not hard_exit:
        emit(asyncio.run(commands[args.command](args)))
        return
    loop = asyncio.new_event_loop()
    emit(loop.run_until_complete(commands[args.command](args)))
    sys.stderr.flush()
    os._exit(0)


async def paced(n: int, interval: float, send: Callable[[], Awaitable[Any]]) -> None:
    """Await ``send()`` ``n`` times on a fixed schedule, one every ``interval`` seconds (W4's producer)."""
    next_at = time.perf_counter()
    for _ in range(n):
        await send()
        next_at += interval
        await asyncio.sleep(max(0.0, next_at - time.perf_counter()))


class Executions:
    """Counts job executions by key inside a worker process; ``done`` is set at the ``target``-th.

    ``first``/``last`` are the ``time.perf_counter()`` of the first start and the last finish,
    so a drain can be timed without the worker's start-up and without polling.
    """

    def __init__(self, target: int = 0) -> None:
        self.target = target
        self.seen: dict[Any, int] = {}
        self.total = 0
        self.first = 0.0
        self.last = 0.0
        self.done = asyncio.Event()

    def started(self) -> None:
        if not self.first:
            self.first = time.perf_counter()

    def finished(self, key: Any) -> None:
        self.seen[key] = self.seen.get(key, 0) + 1
        self.total += 1
        self.last = time.perf_counter()
        if self.target and self.total >= self.target:
            self.done.set()

    def result(self, elapsed: float) -> dict[str, Any]:
        """The drain's result: executions, distinct jobs, seconds and rate."""
        return {"jobs": self.total, "distinct": len(self.seen), "seconds": elapsed,
                "rate": self.total / elapsed if elapsed else 0.0, "peak_rss_mb": peak_rss_mb()}


async def wait_done(event: asyncio.Event, timeout: float, what: str) -> None:
    """Wait for ``event`` with a deadline; fail with ``what`` in the message."""
    try:
        await asyncio.wait_for(event.wait(), timeout)
    except asyncio.TimeoutError:
        fail(f"timed out after {timeout:.0f}s waiting for {what}")


def deadline_for(n: int, sleep: float = 0.0, concurrency: int = 1) -> float:
    """A generous deadline for draining ``n`` jobs (a hung system fails the run instead of hanging it)."""
    return 120.0 + n / 50.0 + n * sleep / max(1, concurrency) * 5


def peak_rss_mb() -> float:
    """This process's peak resident memory (MiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentiles(values: list[float]) -> dict[str, float]:
    """p50/p95/p99/max in milliseconds of latencies in seconds."""
    ordered = sorted(values)
    if not ordered:
        return {}

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000

    return {
        "p50_ms": pick(0.50),
        "p95_ms": pick(0.95),
        "p99_ms": pick(0.99),
        "max_ms": ordered[-1] * 1000,
        "mean_ms": statistics.fmean(ordered) * 1000,
        "count": len(ordered),
    }


class LatencyRecorder:
    """Collected in a worker: ``time.time() - data['t']`` when each job function starts."""

    def __init__(self) -> None:
        self.values: list[float] = []
        self.expected = 0
        self.complete: asyncio.Event | None = None

    def record(self, data: dict[str, Any]) -> None:
        if "t" in data:
            self.values.append(time.time() - float(data["t"]))
            if self.complete is not None and len(self.values) >= self.expected:
                self.complete.set()

    async def settle(self, n: int, timeout: float = 10.0) -> None:
        """Wait (up to ``timeout`` s) until ``n`` latencies are in: the producer's last jobs may still be starting."""
        self.expected, self.complete = n, asyncio.Event()
        if len(self.values) >= n:
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.complete.wait(), timeout)

    def dump(self, path: str) -> None:
        with open(path, "w") as fh:
            json.dump(self.values, fh)


def ready() -> None:
    """Tell the runner that a long-lived worker is listening."""
    print("READY", flush=True)


def install_term(loop: Any, on_term: Callable[[], None]) -> None:
    import signal

    loop.add_signal_handler(signal.SIGTERM, on_term)
    loop.add_signal_handler(signal.SIGINT, on_term)


def fail(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
    sys.exit(2)


def pid() -> int:
    return os.getpid()
