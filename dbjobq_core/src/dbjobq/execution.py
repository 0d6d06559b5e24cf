"""Running one claimed job: call its function (async on the loop, sync in a thread) and decide the outcome.

Whatever the job does (raise anything, ``sys.exit()``, raise ``CancelledError`` itself, raise an
exception that cannot be printed) ends as an outcome to record; only the worker's own revocation of the
job passes through.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import logging
import random
import sys
import time
import traceback
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from . import progress, registry, tracing
from .errors import JobNotRegisteredError
from .flow import Snooze
from .models import Job, JobStatus, Outcome
from .serialization import dumps_result

if TYPE_CHECKING:
    from .storage.base import BaseStorage

logger = logging.getLogger(__name__)

#: A bound on the error text stored with a job, in characters, when the worker sets one
#: (``Worker(error_limit=…)``; the start and the end of a longer text are kept). By default there is none:
#: an error is stored whole like a result, and only what the database server cannot take in one
#: statement is cut, with a marker (``storage/payloads.py``). Log lines stay bounded (:data:`LOG_LIMIT`).
ERROR_LIMIT: int | None = None
#: Characters of error text (and exception repr) a log line carries.
LOG_LIMIT = 4 * 1024

#: Wraps each sync job call in the thread that runs it: ``wrap_sync(call)`` calls ``call()`` and returns
#: its value, e.g. to manage per-thread database connections around the job (``Worker(wrap_sync=...)``).
SyncWrapper = Callable[[Callable[[], Any]], Any]


class ThreadRunner(Protocol):
    """Runs a sync call in a thread of its own; the result is awaited on the running loop (the worker's
    ``JobThreads``). Cancelling the awaitable gives up on the call."""

    def run(self, call: Callable[[], Any]) -> Awaitable[Any]: ...


class JobTimeoutError(TimeoutError):
    """The job ran longer than its ``timeout``."""


def retry_delay(attempt: int, base: float, cap: float) -> float:
    """Seconds before retry number ``attempt`` (1-based): exponential, capped, with full jitter.

    The delay is drawn between half and all of ``min(cap, base * 2**(attempt-1))`` so that jobs that
    failed together do not all come back at the same instant.
    """
    ceiling: float = min(cap, base * (2.0 ** max(0, attempt - 1)))
    return float(ceiling * (0.5 + random.random() / 2))


def cut(text: str, limit: int) -> str:
    """``text`` if it fits in ``limit`` characters, else its start and end around a marker saying so."""
    if len(text) <= limit:
        return text
    keep = max(limit - 40, 2)
    head, tail = keep // 2, keep - keep // 2
    return f"{text[:head]}\n… [{len(text) - head - tail} characters cut] …\n{text[-tail:]}"


def safe_repr(value: object, limit: int = LOG_LIMIT) -> str:
    """``repr(value)`` cut to ``limit`` characters; never raises (a broken ``__repr__`` included)."""
    try:
        text = repr(value)
    except BaseException:
        text = f"<{type(value).__name__} (repr failed)>"
    return cut(text, limit)


def format_error(exc: BaseException, limit: int | None = ERROR_LIMIT) -> str:
    """The exception type, message and traceback, as stored in ``Job.error``: whole, or at most ``limit``
    characters (the message is cut first, so that the traceback survives).

    Never raises: an exception whose ``__str__`` raises is described by its type.
    """
    name = type(exc).__name__
    try:
        message = str(exc)
    except BaseException:
        message = "<the exception's message could not be printed>"
    try:
        details = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    except BaseException:
        details = "<the traceback could not be formatted>\n"
    if limit is None:
        if len(message) > LOG_LIMIT:
            # The traceback ends with the message again: say it once, so a 10 MB message is 10 MB stored.
            with contextlib.suppress(BaseException):
                last = "".join(traceback.format_exception_only(type(exc), exc))
                if details.endswith(last):
                    details = f"{details[: -len(last)]}{name}: (the message above)\n"
        return f"{name}: {message}\n{details}"
    # The message is bounded first so that the traceback after it survives the final cut.
    return cut(f"{name}: {cut(message, limit // 4)}\n{details}", limit)


@dataclass(frozen=True)
class RunResult:
    """What happened in one run: the outcome to record and, for hooks, the exception and duration."""

    outcome: Outcome
    exception: BaseException | None
    duration: float

    @property
    def retried(self) -> bool:
        """True if the job failed and will run again."""
        return self.outcome.status is JobStatus.PENDING and not self.outcome.snoozed

    @property
    def snoozed(self) -> bool:
        """True if the job raised ``Snooze``: pending again, its attempt not counted."""
        return self.outcome.snoozed


async def call_job(
    func: Callable[..., Any],
    data: dict[str, Any],
    *,
    timeout: float | None,
    executor: Executor | ThreadRunner | None,
    wrap_sync: SyncWrapper | None = None,
    is_async: bool | None = None,
) -> Any:
    """Await an async job function, or run a sync one in ``executor`` (the loop's default executor for
    ``None``) with the context copied (through ``wrap_sync`` when given). ``is_async`` says which
    ``func`` is when the caller knows (a registered job's :attr:`~.registry.JobSpec.is_async`)."""
    coro: Awaitable[Any]
    if asyncio.iscoroutinefunction(func) if is_async is None else is_async:
        coro = func(data)
    else:
        ctx = contextvars.copy_context()
        call: Callable[[], Any] = functools.partial(func, data)
        if wrap_sync is not None:
            call = functools.partial(wrap_sync, call)
        if executor is None or isinstance(executor, Executor):
            coro = asyncio.get_running_loop().run_in_executor(executor, functools.partial(ctx.run, call))
        else:
            coro = executor.run(functools.partial(ctx.run, call))
    if timeout is None:
        return await coro
    try:
        return await asyncio.wait_for(coro, timeout)
    except asyncio.TimeoutError:
        # An async job is cancelled by wait_for; a sync one cannot be stopped and is abandoned.
        raise JobTimeoutError(f"Job exceeded its timeout of {timeout:g}s") from None


def run_job(
    job: Job,
    *,
    executor: Executor | ThreadRunner | None = None,
    wrap_sync: SyncWrapper | None = None,
    revoked: Callable[[], bool] | None = None,
    storage: BaseStorage | None = None,
    trace: bool = True,
    error_limit: int | None = ERROR_LIMIT,
) -> Coroutine[Any, Any, RunResult]:
    """Run a claimed job and turn whatever happened into an :class:`Outcome`.

    Raises only ``CancelledError`` from the caller's own cancellation: when ``revoked()`` is true (a
    worker's revocation), or always when ``revoked`` is not given. A job that raises ``CancelledError``
    itself while not revoked fails like any other error. Inside, ``dbjobq.current_job()`` is this job;
    its progress reports are written through ``storage`` (kept in memory without one). With OpenTelemetry
    configured (and ``trace``), the run is a span of the trace the job was enqueued in. ``error_limit``
    bounds the stored error text. Returns the run's coroutine to await.
    """
    run = _run_job(job, executor, wrap_sync, revoked, storage, error_limit)
    if not trace or not tracing.enabled():  # no span to open: no wrapping coroutine (the hot path)
        return run
    return _traced(job, run)


async def _traced(job: Job, run: Coroutine[Any, Any, RunResult]) -> RunResult:
    """Await ``run`` inside a span of the trace ``job`` was enqueued in."""
    with tracing.run_span(job) as span:
        result = await run
        tracing.end_run(span, result)
    return result


async def _run_job(
    job: Job,
    executor: Executor | ThreadRunner | None,
    wrap_sync: SyncWrapper | None,
    revoked: Callable[[], bool] | None,
    storage: BaseStorage | None,
    error_limit: int | None,
) -> RunResult:
    started = time.perf_counter()
    spec: registry.JobSpec | None = None
    current, token = progress.enter(job, _meta_writer(job, storage))
    try:
        spec = registry.resolve(job.type)
        value = await call_job(
            spec.func, job.data, timeout=spec.timeout, executor=executor, wrap_sync=wrap_sync, is_async=spec.is_async
        )
    except Snooze as snooze:
        outcome = Outcome(job.id, job.lease_token or "", JobStatus.PENDING, retry_in=snooze.seconds, snoozed=True)
        return RunResult(outcome, None, time.perf_counter() - started)
    except asyncio.CancelledError as exc:
        if revoked is None or revoked() or cancel_requested():
            raise
        return failure(job, exc, time.perf_counter() - started, spec, error_limit)
    except BaseException as exc:  # a job's failure is data, not a crash of the worker (sys.exit included)
        return failure(job, exc, time.perf_counter() - started, spec, error_limit)
    finally:
        last_report = progress.leave(current, token)
        if last_report is not None:
            await last_report
    try:
        result = dumps_result(value)
    except Exception:
        logger.warning(
            "Job %s (%s) returned a value that is not JSON-serializable; storing no result",
            job.id,
            job.type,
            extra={"action": "job_result_dropped", "job_id": job.id},
        )
        result = None
    outcome = Outcome(job.id, job.lease_token or "", JobStatus.COMPLETED, result=result)
    return RunResult(outcome, None, time.perf_counter() - started)


def _meta_writer(job: Job, storage: BaseStorage | None) -> progress.MetaWriter | None:
    if storage is None or not job.lease_token:
        return None
    token = job.lease_token

    async def write(meta: dict[str, Any]) -> bool:
        return await storage.set_job_meta(job.id, token, meta)

    return write


def cancel_requested() -> bool:
    """True if ``cancel()`` was called on the current task: known from Python 3.11 on, False before."""
    if sys.version_info >= (3, 11):
        task = asyncio.current_task()
        return task is not None and task.cancelling() > 0
    return False


def failure(
    job: Job,
    exc: BaseException,
    duration: float,
    spec: registry.JobSpec | None = None,
    error_limit: int | None = ERROR_LIMIT,
) -> RunResult:
    """The result of a failed run: a retry while attempts remain, else failed, with the error kept."""
    error = format_error(exc, error_limit)
    token = job.lease_token or ""
    spec = spec or registry.get_spec(job.type)
    if job.attempts <= job.max_retries and not isinstance(exc, JobNotRegisteredError):
        delay = retry_delay(job.attempts, spec.retry_delay, spec.retry_max_delay) if spec else 1.0
        outcome = Outcome(job.id, token, JobStatus.PENDING, error=error, retry_in=delay)
    else:
        outcome = Outcome(job.id, token, JobStatus.FAILED, error=error)
    return RunResult(outcome, exc, duration)
