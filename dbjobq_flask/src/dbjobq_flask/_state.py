"""Per-app state: the settings, and the storage and JobQueue living on the app's own loop thread."""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Awaitable, Callable
from typing import TypeVar

from flask import Flask

from dbjobq import JobQueue, StorageClosedError
from dbjobq.storage import SQLAlchemyStorage

from ._config import Settings
from ._loop import LoopThread

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: The key of the state in ``app.extensions``.
EXTENSION_KEY = "dbjobq"

#: Loop threads and storages left behind (inherited from a parent process, or whose thread died): kept
#: referenced, so that no destructor ever touches connections that belong to another process or loop.
_abandoned: list[object] = []

#: Seconds to wait for the storage to close at shutdown.
CLOSE_TIMEOUT = 10.0


class DBJobQState:
    """What ``DBJobQ`` keeps for one app, in ``app.extensions["dbjobq"]``.

    The loop thread, storage and queue start on first use (not in ``init_app``), so that importing or
    forking the app (``gunicorn --preload``) starts no thread; a process that finds itself forked
    starts its own. :meth:`close` stops them; it also runs at interpreter exit.
    """

    def __init__(self, name: str, settings: Settings) -> None:
        self.name = name
        self.settings = settings
        self._lock = threading.Lock()
        self._loop: LoopThread | None = None
        self._storage: SQLAlchemyStorage | None = None
        self._queue: JobQueue | None = None
        self._pid: int | None = None
        self._closed = False
        self._finalizer: weakref.finalize[..., DBJobQState] | None = None
        _states.add(self)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "started" if self._loop is not None else "idle"
        return f"<DBJobQState {self.name!r} {self.settings.safe_url!r} {state}>"

    @property
    def is_closed(self) -> bool:
        """True after :meth:`close`."""
        return self._closed

    @property
    def started(self) -> bool:
        """True once the loop thread and storage run in this process."""
        return self._loop is not None and self._pid == os.getpid()

    def new_storage(self) -> SQLAlchemyStorage:
        """A new, uninitialised storage for this app's database (e.g. for a worker on its own loop)."""
        if self.settings.create_dir:
            os.makedirs(self.settings.create_dir, exist_ok=True)
        return SQLAlchemyStorage(
            self.settings.database_url, **self.settings.storage_options(), **self.settings.engine_options
        )

    # -- running coroutines on the loop thread --------------------------------------------------
    def call(self, func: Callable[[JobQueue], Awaitable[T]]) -> T:
        """Run ``await func(queue)`` on the loop thread and block until it returns (from any thread)."""
        loop, queue = self._ensure_started()
        return loop.run(_await(func, queue), self.settings.call_timeout)

    async def acall(self, func: Callable[[JobQueue], Awaitable[T]]) -> T:
        """Await ``func(queue)`` run on the loop thread, from any event loop."""
        loop, queue = self._ensure_started()
        return await loop.arun(_await(func, queue), self.settings.call_timeout)

    @property
    def queue(self) -> JobQueue:
        """The JobQueue on the loop thread (starts it). Use it only on that loop: see ``DBJobQ.queue``."""
        return self._ensure_started()[1]

    @property
    def loop_thread(self) -> LoopThread:
        """The loop thread the storage lives on (starts it)."""
        return self._ensure_started()[0]

    def _ensure_started(self) -> tuple[LoopThread, JobQueue]:
        loop, queue = self._loop, self._queue
        if loop is not None and queue is not None and self._pid == os.getpid() and loop.is_alive():
            return loop, queue
        with self._lock:
            if self._closed:
                raise StorageClosedError(
                    f"DBJobQ for app {self.name!r} is closed: "
                    "create a new app (or a new DBJobQ) to use it again"
                )
            if self._loop is not None and self._pid != os.getpid():
                # Forked (e.g. gunicorn --preload): the parent's loop thread does not exist here and its
                # pooled connections belong to the parent. Forget them, without touching them.
                logger.debug("DBJobQ for %s: new process, starting a new loop thread", self.name)
                self._abandon()
            elif self._loop is not None and not self._loop.is_alive():
                logger.warning("DBJobQ loop thread for %s stopped unexpectedly: starting a new one", self.name,
                               extra={"action": "loop_restarted"})
                self._abandon()
            if self._loop is None or self._queue is None:
                self._start()
            assert self._loop is not None and self._queue is not None
            return self._loop, self._queue

    def _start(self) -> None:
        storage = self.new_storage()
        loop = LoopThread(name=f"dbjobq-flask-{self.name}")
        try:
            loop.run(storage.initialize(), self.settings.call_timeout)
        except BaseException:
            # Nothing is cached: the next call tries again (e.g. once the database is back).
            _shutdown(loop, storage, os.getpid())
            raise
        self._storage, self._queue, self._pid = storage, JobQueue(storage, eager=self.settings.eager), os.getpid()
        self._loop = loop
        self._finalizer = weakref.finalize(self, _shutdown, loop, storage, self._pid)
        logger.debug("DBJobQ for %s started on %s", self.name, self.settings.safe_url)

    def _abandon(self) -> None:
        _abandoned.append((self._loop, self._storage, self._queue))
        if self._finalizer is not None:
            self._finalizer.detach()
        self._finalizer = None
        self._loop = self._storage = self._queue = None

    def close(self) -> None:
        """Close the storage on its loop and stop the loop thread. Later calls raise. Idempotent."""
        with self._lock:
            self._closed = True
            finalizer, self._finalizer = self._finalizer, None
            self._loop = self._storage = self._queue = None
        if finalizer is not None:
            finalizer()


#: Every state, so that a forked child gets fresh locks (a lock held by another thread at fork time
#: would stay held forever in the child).
_states: weakref.WeakSet[DBJobQState] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for state in list(_states):
        state._lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


async def _await(func: Callable[[JobQueue], Awaitable[T]], queue: JobQueue) -> T:
    return await func(queue)


def _shutdown(loop: LoopThread, storage: SQLAlchemyStorage, pid: int) -> None:
    """Close ``storage`` on ``loop`` and stop the thread (at close, garbage collection or exit)."""
    if pid != os.getpid():
        return  # a forked child: neither the thread nor the connections are ours
    if loop.is_alive() and not loop.in_loop_thread():
        try:
            loop.run(storage.close(), CLOSE_TIMEOUT)
        except Exception:
            logger.exception("Could not close the DBJobQ storage cleanly", extra={"action": "close_failed"})
    loop.stop(CLOSE_TIMEOUT)


def state_of(app: Flask) -> DBJobQState:
    """``app``'s DBJobQ state; ``RuntimeError`` saying how to fix it if DBJobQ was never set up on it."""
    state = app.extensions.get(EXTENSION_KEY)
    if not isinstance(state, DBJobQState):
        raise RuntimeError(
            f"DBJobQ is not set up on app {app.name!r}: did you forget to call jobq.init_app(app)?"
        )
    return state
