"""The sync jobs' threads: results reach the loop in batches, and a caller that gives up abandons the call."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from dbjobq.worker.threads import JobThreads
from tests.waiting import wait_until


def _block_until(deadline_check: Any, timeout: float = 10.0) -> None:
    """Hold the event loop's thread (no await) until ``deadline_check()`` is true."""
    deadline = time.monotonic() + timeout
    while not deadline_check():
        assert time.monotonic() < deadline, "condition not met while holding the loop"
        time.sleep(0.001)


async def _true(value: bool) -> bool:
    return value


async def test_results_and_exceptions_reach_the_caller() -> None:
    threads = JobThreads()

    def leave() -> None:
        raise SystemExit(3)  # a job's sys.exit() is its caller's to handle, not the thread's

    try:
        assert await threads.run(lambda: threading.current_thread().name) == "dbjobq-job-1"
        with pytest.raises(ZeroDivisionError):
            await threads.run(lambda: 1 / 0)
        with pytest.raises(SystemExit):
            await threads.run(leave)
        assert await threads.run(lambda: "the thread lives on") == "the thread lives on"
    finally:
        threads.shutdown()


async def test_calls_that_end_while_the_loop_is_busy_wake_it_once(monkeypatch: pytest.MonkeyPatch) -> None:
    loop = asyncio.get_running_loop()
    wakeups: list[object] = []
    original = loop.call_soon_threadsafe

    def counting(callback: Any, *args: Any, **kwargs: Any) -> Any:
        wakeups.append(callback)
        return original(callback, *args, **kwargs)

    monkeypatch.setattr(loop, "call_soon_threadsafe", counting)
    threads = JobThreads()
    release = threading.Event()
    ended: list[int] = []

    def call(i: int) -> int:
        release.wait(10)
        ended.append(i)
        return i * i

    try:
        futures = [threads.run(lambda i=i: call(i)) for i in range(20)]
        release.set()
        _block_until(lambda: len(ended) == 20 and not threads._busy)  # all ended; the loop has not run
        assert await asyncio.gather(*futures) == [i * i for i in range(20)]
        assert len(wakeups) == 1  # run_in_executor would have woken the loop 20 times
    finally:
        threads.shutdown()


async def test_a_caller_giving_up_abandons_the_running_call_until_it_returns() -> None:
    returned = threading.Event()
    threads = JobThreads(on_abandoned_return=returned.set)
    started, release = threading.Event(), threading.Event()

    def stuck() -> str:
        started.set()
        release.wait(10)
        return "too late"

    try:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(threads.run(stuck), 0.05)
        assert started.is_set()
        assert threads.abandoned_count() == 1
        [abandoned] = threads.abandoned()
        assert abandoned.thread == "dbjobq-job-1"
        # The next call gets a thread of its own, not a place behind the stuck one.
        assert await threads.run(lambda: threading.current_thread().name) == "dbjobq-job-2"
        release.set()
        await asyncio.to_thread(returned.wait, 10)
        await wait_until(lambda: _true(threads.abandoned_count() == 0))
        assert threads.abandoned() == []
    finally:
        threads.shutdown()


async def test_a_call_given_up_before_a_thread_took_it_never_runs() -> None:
    threads = JobThreads()
    ran = threading.Event()
    real_queue, held = threads._queue, []

    class Holding:  # the thread waits on the real queue; the call is handed over after the caller gave up
        get = real_queue.get
        put = held.append

    threads._queue = Holding()  # type: ignore[assignment]
    try:
        future = threads.run(ran.set)
        future.cancel()
        threads._queue = real_queue
        real_queue.put(held.pop())
        await wait_until(lambda: _true(threads._idle == 1))  # the thread skipped the call, and waits again
        assert await threads.run(lambda: threading.current_thread().name) == "dbjobq-job-1"  # served both
        assert not ran.is_set()
        assert threads.abandoned_count() == 0
    finally:
        threads.shutdown()


def test_results_reach_each_event_loop_the_threads_serve() -> None:
    threads = JobThreads()

    async def one(value: int) -> int:
        return await threads.run(lambda: value)

    try:
        assert asyncio.run(one(1)) == 1
        assert asyncio.run(one(2)) == 2  # a worker run again in a new loop
    finally:
        threads.shutdown()
