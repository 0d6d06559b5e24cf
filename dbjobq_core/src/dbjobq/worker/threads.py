"""The threads sync jobs run in: daemon threads, so that one that never returns cannot hold the process.

A sync job over its timeout cannot be stopped: its caller gives up and the thread is *abandoned*, still
running. :class:`JobThreads` starts a new thread for the next job rather than queueing it behind the
stuck one (``concurrent.futures.ThreadPoolExecutor`` would, and would also join the stuck thread at
interpreter exit, so the process could never end). It tells the worker how many abandoned threads
still run, so that they count against its concurrency once they are many (see ``Worker``).

:meth:`JobThreads.run` hands results back to the event loop in batches: the calls that end while the
loop is busy are delivered by one wake-up, not one each (``run_in_executor`` wakes the loop per call,
and at thousands of short sync jobs a second those wake-ups and the GIL hand-offs around them cost
more than the jobs' own Python).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")


class _Work(asyncio.Future[Any]):
    """One call of :meth:`JobThreads.run`: the caller's future, resolved on its loop in a batch, and where
    the call stands (``state`` and ``abandoned_at`` change under ``JobThreads._lock``). Cancelling it (a
    timeout, a revocation) gives up on the call; no done callback per call, most are never cancelled."""

    def __init__(self, loop: asyncio.AbstractEventLoop, call: Callable[[], Any], threads: JobThreads) -> None:
        super().__init__(loop=loop)
        self.call = call
        self.state = "queued"  # then "running" and "ended", or "cancelled" before it started
        self.abandoned_at: float | None = None  # when the caller gave up on it while it ran
        self.started_at = time.monotonic()
        self._threads = threads

    def cancel(self, msg: Any = None) -> bool:
        cancelled = super().cancel(msg)
        if cancelled:
            self._threads._give_up(self)
        return cancelled


@dataclass(frozen=True)
class AbandonedThread:
    """A thread still running a call its caller gave up on."""

    thread: str
    running_for: float


class JobThreads:
    """Daemon threads for sync jobs: an idle one takes the next call, or a new one is started.

    ``on_abandoned_return`` is called (from the returning thread) when an abandoned thread finishes.
    """

    def __init__(self, name: str = "dbjobq-job", on_abandoned_return: Callable[[], None] | None = None) -> None:
        self._name = name
        self._on_abandoned_return = on_abandoned_return
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[_Work | None] = queue.SimpleQueue()
        self._idle = 0  # threads waiting for work, not yet promised a queued call
        self._threads: set[threading.Thread] = set()
        self._busy: dict[threading.Thread, _Work] = {}
        self._abandoned = 0  # busy threads whose caller gave up
        self._numbers = itertools.count(1)
        self._shutdown = False
        self._finished: list[tuple[_Work, Any, BaseException | None]] = []  # for run()'s waiters
        self._delivery_loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return f"JobThreads({self._name!r}, threads={len(self._threads)}, busy={len(self._busy)})"

    def run(self, call: Callable[[], T]) -> asyncio.Future[T]:
        """Run ``call()`` in a daemon thread; return an asyncio future of the running loop for its result.

        Cancelling the returned future (a timeout, a revocation) cancels a call not yet started and
        marks a running one abandoned, as ``run_in_executor`` would. Results reach the loop in batches.
        """
        loop = asyncio.get_running_loop()
        if self._delivery_loop is not loop:
            with self._lock:  # a new loop (the worker runs again): results for the old one have no reader
                self._delivery_loop = loop
                self._finished.clear()
        work = _Work(loop, call, self)
        self._start(work)
        return work

    def _give_up(self, work: _Work) -> None:
        """The caller gave up: a call not started never starts; a running one is abandoned."""
        with self._lock:
            if work.state == "queued":
                work.state = "cancelled"
            elif work.state == "running" and work.abandoned_at is None:
                work.abandoned_at = time.monotonic()
                self._abandoned += 1

    def _start(self, work: _Work) -> None:
        with self._lock:
            if self._shutdown:
                raise RuntimeError("JobThreads is shut down: no new job can start")
            self._queue.put(work)
            if self._idle:
                self._idle -= 1
            else:
                thread = threading.Thread(
                    target=self._serve, name=f"{self._name}-{next(self._numbers)}", daemon=True
                )
                self._threads.add(thread)
                thread.start()

    def abandoned_count(self) -> int:
        """How many threads still run a call whose caller gave up (cheap: a counter)."""
        return self._abandoned

    def abandoned(self) -> list[AbandonedThread]:
        """The threads still running a call whose caller gave up (timed out or revoked)."""
        now = time.monotonic()
        with self._lock:
            return [
                AbandonedThread(thread.name, now - work.started_at)
                for thread, work in self._busy.items()
                if work.abandoned_at is not None
            ]

    def shutdown(self) -> None:
        """Let idle threads end; busy ones end with their call, never waited for (an abandoned call may
        never return: daemon threads cannot keep the process alive). Logs the abandoned ones."""
        with self._lock:
            self._shutdown = True
            for _ in range(len(self._threads)):
                self._queue.put(None)
        abandoned = self.abandoned()
        if abandoned:
            logger.warning(
                "%d abandoned job thread(s) still running, left to end with the process: %s",
                len(abandoned),
                ", ".join(f"{t.thread} ({t.running_for:.1f}s)" for t in abandoned),
                extra={"action": "threads_abandoned", "threads": [t.thread for t in abandoned]},
            )

    def _wake(self, loop: asyncio.AbstractEventLoop) -> None:
        """Ask the loop to deliver the results queued since its last delivery (one wake-up for them all)."""
        try:
            loop.call_soon_threadsafe(self._deliver)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            with self._lock:
                self._finished.clear()

    def _deliver(self) -> None:
        """On the loop: resolve every waiter whose call ended since the last delivery."""
        with self._lock:
            finished, self._finished = self._finished, []
        for work, result, exc in finished:
            if work.done():  # given up on (cancelled) meanwhile
                continue
            if exc is None:
                work.set_result(result)
            else:
                work.set_exception(exc)

    def _serve(self) -> None:
        me = threading.current_thread()
        while True:
            work = self._queue.get()
            if work is None:
                break
            with self._lock:
                if work.state == "cancelled":
                    self._idle += 1
                    continue
                work.state = "running"
                self._busy[me] = work
            work.started_at = time.monotonic()
            result: Any = None
            error: BaseException | None = None
            try:
                result = work.call()
            except BaseException as exc:  # a job's SystemExit belongs to its caller, not this thread
                error = exc
            # One locked section: the result queued for the loop, this thread idle again.
            with self._lock:
                wake = not self._finished
                self._finished.append((work, result, error))
                loop = self._delivery_loop
                work.state = "ended"
                del self._busy[me]
                self._idle += 1
                if work.abandoned_at is not None:
                    self._abandoned -= 1
            del result, error
            if wake and loop is not None:
                self._wake(loop)
            if work.abandoned_at is not None:
                logger.warning(
                    "Abandoned job thread %s returned after %.1fs",
                    me.name,
                    time.monotonic() - work.started_at,
                    extra={"action": "thread_returned"},
                )
                if self._on_abandoned_return is not None:
                    self._on_abandoned_return()
            del work
        with self._lock:
            self._threads.discard(me)
