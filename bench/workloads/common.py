"""Helpers shared by the workload scripts (standard library only: they run in every virtualenv)."""

from __future__ import annotations

import argparse
import asyncio
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
    return p


def emit(result: dict[str, Any]) -> None:
    """Print the result as the last stdout line (what the runner reads)."""
    print(json.dumps(result), flush=True)


def run_command(doc: str, commands: dict[str, Callable[[argparse.Namespace], Awaitable[dict[str, Any]]]]) -> None:
    """A workload script's entry point: parse the command line, run that command, emit its result."""
    args = parser(doc).parse_args()
    emit(asyncio.run(commands[args.command](args)))


async def paced(n: int, interval: float, send: Callable[[], Awaitable[Any]]) -> None:
    """Await ``send()`` ``n`` times on a fixed schedule, one every ``interval`` seconds (W4's producer)."""
    next_at = time.perf_counter()
    for _ in range(n):
        await send()
        next_at += interval
        await asyncio.sleep(max(0.0, next_at - time.perf_counter()))


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

    def record(self, data: dict[str, Any]) -> None:
        if "t" in data:
            self.values.append(time.time() - float(data["t"]))

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
