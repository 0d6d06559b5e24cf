"""Waiting in tests: polls with deadlines, never bare sleeps."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def wait_until(check: Callable[[], Awaitable[T]], *, timeout: float = 10.0, interval: float = 0.02) -> T:
    """Poll ``check`` until it returns a truthy value; fail with the last value after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value: {value!r})")
        await asyncio.sleep(interval)


async def listening(worker: Any) -> bool:
    """True once a PostgreSQL worker holds a live LISTEN connection."""
    subscription = worker._wakeups.subscription
    return subscription is not None and bool(subscription.alive)


async def stop_processes(procs: Any, *, timeout: float = 60.0) -> list[int]:
    """SIGTERM each worker process, then wait for each (off the event loop); their exit codes, in order."""
    import signal

    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    return [await asyncio.to_thread(proc.wait, timeout) for proc in procs]
