"""The threads sync jobs run in: daemon threads, so that one that never returns cannot hold the process.

A sync job over its timeout cannot be stopped: its caller gives up and the thread is *abandoned*, still
running. :class:`JobThreads` starts a new thread for the next job rather than queueing it behind the
stuck one (``concurrent.futures.ThreadPoolExecutor`` would, and would also join the stuck thread at
interpreter exit, so the process could never end). It tells the worker how many abandoned threads
still run, so that they count against its concurrency once they are many (see ``Worker``).
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")


class _JobFuture(Future[Any]):
    """A future that notices when its caller gives up on it while it runs (a timeout or revocation).

    asyncio's ``wrap_future`` (behind ``loop.run_in_executor``) cancels the executor's future when the
    awaiting side is cancelled; a running future cannot be cancelled, so that call marks it abandoned.
    """

    def __init__(self, on_abandoned: Callable[[], None]) -> None:
        super().__init__()
        self.abandoned_at: float | None = None
        self._on_abandoned = on_abandoned

    def cancel(self) -> bool:
        cancelled = super().cancel()
        if not cancelled and self.running() and self.abandoned_at is None:
            self.abandoned_at = time.monotonic()
            self._on_abandoned()
        return cancelled


@dataclass
class _Work:
    future: _JobFuture
    call: Callable[[], Any]
    started_at: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class AbandonedThread:
    """A thread still running a call its caller gave up on."""

    thread: str
    running_for: float


class JobThreads(Executor):
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

    def __repr__(self) -> str:
        return f"JobThreads({self._name!r}, threads={len(self._threads)}, busy={len(self._busy)})"

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        """Run ``fn(*args, **kwargs)`` in a daemon thread; return its future."""
        future = _JobFuture(self._count_abandoned)
        with self._lock:
            if self._shutdown:
                raise RuntimeError("JobThreads is shut down: no new job can start")
            self._queue.put(_Work(future, lambda: fn(*args, **kwargs)))
            if self._idle:
                self._idle -= 1
            else:
                thread = threading.Thread(
                    target=self._serve, name=f"{self._name}-{next(self._numbers)}", daemon=True
                )
                self._threads.add(thread)
                thread.start()
        return future

    def abandoned_count(self) -> int:
        """How many threads still run a call whose caller gave up (cheap: a counter)."""
        return self._abandoned

    def _count_abandoned(self) -> None:
        with self._lock:
            self._abandoned += 1

    def abandoned(self) -> list[AbandonedThread]:
        """The threads still running a call whose caller gave up (timed out or revoked)."""
        now = time.monotonic()
        with self._lock:
            return [
                AbandonedThread(thread.name, now - work.started_at)
                for thread, work in self._busy.items()
                if work.future.abandoned_at is not None
            ]

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
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

    def _serve(self) -> None:
        me = threading.current_thread()
        while True:
            work = self._queue.get()
            if work is None:
                break
            with self._lock:
                self._busy[me] = work
            work.started_at = time.monotonic()
            if work.future.set_running_or_notify_cancel():
                try:
                    result = work.call()
                except BaseException as exc:  # a job's SystemExit belongs to its future, not this thread
                    work.future.set_exception(exc)
                else:
                    work.future.set_result(result)
            with self._lock:
                del self._busy[me]
                self._idle += 1
                if work.future.abandoned_at is not None:
                    self._abandoned -= 1
            if work.future.abandoned_at is not None:
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
