"""A long-lived event loop in a daemon thread, so sync (and foreign-loop) code can share one pool.

Why not ``asgiref.async_to_sync`` for every call: called from a plain thread (a WSGI worker thread),
it runs each call on a new event loop, while asyncpg and aiomysql connections belong to the loop that
opened them. Pooled connections would then be reused on the wrong loop ("attached to a different
loop") or a connection would be opened and dropped per call. Here the storage, its engine and every
pooled connection live on this one loop; callers in any thread submit coroutines to it and wait.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import logging
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")


class LoopThread:
    """An asyncio event loop running forever in a daemon thread; coroutines are submitted from anywhere."""

    def __init__(self, name: str = "dbjobq-loop") -> None:
        # Made in an empty context: the loop's own handles keep the context they were created in, and
        # the caller's holds its Flask app (and request) contexts.
        self.loop = contextvars.Context().run(asyncio.new_event_loop)
        self._started = threading.Event()
        # A daemon, so a forgotten close() never keeps the process alive; threads it starts (aiosqlite's
        # connection threads) inherit that. close() and the atexit hook still close the storage cleanly.
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        self._started.wait()

    def __repr__(self) -> str:
        return f"LoopThread({self._thread.name!r}, alive={self.is_alive()})"

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._started.set)
        try:
            self.loop.run_forever()
        finally:
            try:
                pending = [task for task in asyncio.all_tasks(self.loop) if not task.done()]
                for task in pending:
                    task.cancel()
                if pending:
                    self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            finally:
                self.loop.close()

    def is_alive(self) -> bool:
        """True while the thread runs the loop."""
        return self._thread.is_alive()

    def in_loop_thread(self) -> bool:
        """True when called from the loop's own thread (where blocking on the loop would deadlock)."""
        return threading.get_ident() == self._thread.ident

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule ``coro`` on the loop; return a thread-safe future for its result."""
        if self.loop.is_closed() or not self.is_alive():
            coro.close()
            raise RuntimeError("The DBJobQ event loop thread is stopped (was the extension closed?)")
        # Submitted from an empty context: otherwise the task would run in a copy of the caller's
        # context, and whatever the loop keeps from it (pooled connections are made inside tasks) would
        # keep the caller's Flask app and request contexts alive.
        return contextvars.Context().run(asyncio.run_coroutine_threadsafe, coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the loop and block the calling thread until it returns (or ``timeout`` s)."""
        if self.in_loop_thread():
            coro.close()
            raise RuntimeError(
                "A DBJobQ sync method was called on its own event loop thread, which would deadlock: "
                "await the async face (e.g. `await jobq.aenqueue(...)`) instead"
            )
        future = self.submit(coro)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise _timeout(timeout) from None

    async def arun(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Await ``coro`` run on the loop, from a coroutine on any event loop (e.g. an async Flask view).

        Cancelling the caller cancels ``coro`` too.
        """
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            return await coro
        try:
            return await asyncio.wait_for(asyncio.wrap_future(self.submit(coro)), timeout)
        except asyncio.TimeoutError:
            raise _timeout(timeout) from None

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the loop (cancelling what still runs on it) and join the thread."""
        if not self.is_alive():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed in the meantime
            self.loop.call_soon_threadsafe(self.loop.stop)
        if not self.in_loop_thread():
            self._thread.join(timeout)
            if self._thread.is_alive():
                logger.warning("DBJobQ loop thread %s did not stop within %ss", self._thread.name, timeout)


def _timeout(timeout: float | None) -> TimeoutError:
    return TimeoutError(
        f"DBJobQ call did not finish within {timeout:g}s (raise DBJOBQ_CALL_TIMEOUT if the database is "
        "slow, or check that it is reachable)"
    )
