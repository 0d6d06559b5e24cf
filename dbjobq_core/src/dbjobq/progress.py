"""The running job as its own code sees it: :func:`current_job`, and progress reports written to the
job's ``meta`` (throttled: a tight loop costs at most a few writes per second).

The worker sets the current job around each run, in the job's own context, so ``current_job()`` works
in async jobs and in sync ones (their thread gets a copy of that context). Progress is written fenced
by the run's claim (a late write after the job finished or lost its claim changes nothing), is kept
across retries, and never fails the job: a write that fails is logged and skipped.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import math
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from .models import Job

logger = logging.getLogger(__name__)

#: Seconds between two progress writes of one job (reports in between are coalesced; the last one wins).
PROGRESS_INTERVAL = 0.5
#: Characters of a progress message that are stored.
MESSAGE_LIMIT = 500

#: Writes a job's whole ``meta``: ``write(meta)`` (fenced by the job's claim).
MetaWriter = Callable[[dict[str, Any]], Awaitable[Any]]

#: Guards every running job's latest report (reports are rare and throttled: one lock for all of them
#: spares each job a lock of its own).
_reports_lock = threading.Lock()

_current: contextvars.ContextVar[CurrentJob | None] = contextvars.ContextVar("dbjobq_current_job", default=None)


def current_job() -> CurrentJob:
    """The job running in this context (an async job's task, or a sync job's thread).

    Raises ``RuntimeError`` outside a job run by a worker, eager mode or ``execute_job``.
    """
    found = _current.get()
    if found is None:
        raise RuntimeError("dbjobq.current_job() is only available inside a job that DBJobQ is running")
    return found


class CurrentJob:
    """The running job: ``id``, ``attempt`` (1 for the first run), ``type``, ``queue``, ``data``, and
    progress reports with :meth:`set_progress` (from sync or async code) or ``await``
    :meth:`aset_progress`."""

    __slots__ = (
        "_dirty",
        "_interval",
        "_last_write",
        "_latest",
        "_loop",
        "_loop_thread",
        "_task",
        "_timer",
        "_write",
        "job",
    )

    def __init__(self, job: Job, write: MetaWriter | None, interval: float = PROGRESS_INTERVAL) -> None:
        self.job = job
        self._write = write
        self._interval = interval
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._latest: dict[str, Any] | None = None
        self._dirty = False
        self._last_write = -math.inf
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"CurrentJob({self.id!r}, type={self.type!r}, attempt={self.attempt})"

    @property
    def id(self) -> str:
        """The job's id."""
        return self.job.id

    @property
    def attempt(self) -> int:
        """Which run this is: 1 for the first, N+1 for the N-th retry."""
        return self.job.attempts

    @property
    def type(self) -> str:
        """The job's type (its registered name)."""
        return self.job.type

    @property
    def queue(self) -> str:
        """The job's queue."""
        return self.job.queue

    @property
    def data(self) -> dict[str, Any]:
        """The job's data."""
        return self.job.data

    @property
    def progress(self) -> dict[str, Any] | None:
        """The last progress reported (by this run or, until it reports, by an earlier attempt)."""
        with _reports_lock:
            return dict(self._latest) if self._latest is not None else self.job.progress

    def set_progress(self, fraction: float, message: str | None = None) -> None:
        """Report how far the job has got: ``fraction`` from 0.0 to 1.0, and an optional message.

        Returns at once, from async code or from a sync job's thread; the write follows within
        ``PROGRESS_INTERVAL`` seconds (reports in between are coalesced, the last one is written).
        """
        progress = _validated(fraction, message)
        with _reports_lock:
            self._latest, self._dirty = progress, True
        if threading.get_ident() == self._loop_thread:
            self._request()
        else:
            self._loop.call_soon_threadsafe(self._request)

    async def aset_progress(self, fraction: float, message: str | None = None) -> None:
        """:meth:`set_progress` for async code; writes before returning unless a write happened less
        than ``PROGRESS_INTERVAL`` seconds ago (then the report is coalesced into the next one)."""
        self.set_progress(fraction, message)
        task = self._task
        if task is not None:
            await asyncio.shield(task)

    # -- writing, on the loop ------------------------------------------------------------------
    def _request(self) -> None:
        if self._write is None or self._timer is not None or (self._task is not None and not self._task.done()):
            return  # no storage (local only), or a write is already due: it takes the latest report
        delay = self._last_write + self._interval - time.monotonic()
        if delay <= 0:
            self._task = self._loop.create_task(self._flush())
        else:
            self._timer = self._loop.call_later(delay, self._timer_fired)

    def _timer_fired(self) -> None:
        self._timer = None
        self._task = self._loop.create_task(self._flush())

    async def _flush(self) -> None:
        with _reports_lock:
            if not self._dirty or self._latest is None or self._write is None:
                return
            progress, self._dirty = self._latest, False
        self._last_write = time.monotonic()
        meta = {**self.job.meta, "progress": progress}
        try:
            await self._write(meta)
            self.job.meta = meta
        except Exception:
            logger.warning("Could not store the progress of job %s", self.id, exc_info=True,
                           extra={"action": "progress_failed", "job_id": self.id})
        with _reports_lock:
            again = self._dirty
        if again:
            self._request_after_write()

    def _request_after_write(self) -> None:
        self._task = None
        self._request()

    def silent(self) -> bool:
        """True if the job never reported progress (nothing to write at its end)."""
        return self._latest is None and self._task is None and self._timer is None

    async def finish(self) -> None:
        """At the end of the run: write the last report if it is still pending (one write at most)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        task = self._task
        if task is not None and not task.done():
            await asyncio.shield(task)
        with _reports_lock:
            pending = self._dirty
        if pending:
            await self._flush()


def _validated(fraction: float, message: str | None) -> dict[str, Any]:
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0.0 <= fraction <= 1.0:
        raise ValueError(f"progress must be a number from 0.0 to 1.0, not {fraction!r}")
    if message is not None and not isinstance(message, str):
        raise TypeError("the progress message must be a string")
    progress: dict[str, Any] = {"fraction": float(fraction), "at": time.time()}
    if message:
        progress["message"] = message[:MESSAGE_LIMIT]
    return progress


def enter(job: Job, write: MetaWriter | None) -> tuple[CurrentJob, contextvars.Token[CurrentJob | None]]:
    """Make ``job`` the current job of this context (the caller then runs it, and calls :func:`leave`)."""
    current = CurrentJob(job, write)
    return current, _current.set(current)


def leave(current: CurrentJob, token: contextvars.Token[CurrentJob | None]) -> Awaitable[None] | None:
    """End the run of :func:`enter`: the current job unset; returns the write of the pending report to
    await, or ``None`` when the job reported nothing (the usual case costs no coroutine)."""
    _current.reset(token)
    return None if current.silent() else _write_last(current)


async def _write_last(current: CurrentJob) -> None:
    try:
        await current.finish()
    except Exception:
        logger.warning("Could not store the progress of job %s", current.id, exc_info=True,
                       extra={"action": "progress_failed", "job_id": current.id})
