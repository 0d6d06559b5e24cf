"""Running one claimed job: call its function (async on the loop, sync in a thread) and decide the outcome."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import random
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from . import registry
from .errors import JobNotRegisteredError
from .models import Job, JobStatus, Outcome
from .serialization import dumps_result

logger = logging.getLogger(__name__)


class JobTimeoutError(TimeoutError):
    """The job ran longer than its ``timeout``."""


def retry_delay(attempt: int, base: float, cap: float) -> float:
    """Seconds before retry number ``attempt`` (1-based): exponential, capped, with full jitter.

    The delay is drawn between half and all of ``min(cap, base * 2**(attempt-1))`` so that jobs that
    failed together do not all come back at the same instant.
    """
    ceiling: float = min(cap, base * (2.0 ** max(0, attempt - 1)))
    return float(ceiling * (0.5 + random.random() / 2))


def format_error(exc: BaseException) -> str:
    """The exception type, message and traceback, as stored in ``Job.error``."""
    details = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return f"{type(exc).__name__}: {exc}\n{details}"


@dataclass(frozen=True)
class RunResult:
    """What happened in one run: the outcome to record and, for hooks, the exception and duration."""

    outcome: Outcome
    exception: BaseException | None
    duration: float

    @property
    def retried(self) -> bool:
        """True if the job failed and will run again."""
        return self.outcome.status is JobStatus.PENDING


async def call_job(
    func: Callable[..., Any], data: dict[str, Any], *, timeout: float | None, executor: Executor | None
) -> Any:
    """Await an async job function, or run a sync one in ``executor`` with the context copied."""
    if asyncio.iscoroutinefunction(func):
        coro = func(data)
    else:
        loop = asyncio.get_running_loop()
        ctx = contextvars.copy_context()
        coro = loop.run_in_executor(executor, functools.partial(ctx.run, func, data))
    if timeout is None:
        return await coro
    try:
        return await asyncio.wait_for(coro, timeout)
    except asyncio.TimeoutError:
        # An async job is cancelled by wait_for; a sync one cannot be stopped and is abandoned.
        raise JobTimeoutError(f"Job exceeded its timeout of {timeout:g}s") from None


async def run_job(job: Job, *, executor: Executor | None = None) -> RunResult:
    """Run a claimed job and turn what happened into an :class:`Outcome` (never raises for job errors)."""
    started = time.perf_counter()
    token = job.lease_token or ""
    spec: registry.JobSpec | None = None
    try:
        spec = registry.resolve(job.type)
        value = await call_job(spec.func, job.data, timeout=spec.timeout, executor=executor)
        try:
            result = dumps_result(value)
        except TypeError:
            logger.warning(
                "Job %s (%s) returned a value that is not JSON-serializable; storing no result",
                job.id,
                job.type,
                extra={"action": "job_result_dropped", "job_id": job.id},
            )
            result = None
        outcome = Outcome(job.id, token, JobStatus.COMPLETED, result=result)
        return RunResult(outcome, None, time.perf_counter() - started)
    except Exception as exc:  # a job's failure is data, not a crash of the worker
        error = format_error(exc)
        duration = time.perf_counter() - started
        if job.attempts <= job.max_retries and not isinstance(exc, JobNotRegisteredError):
            delay = retry_delay(job.attempts, spec.retry_delay, spec.retry_max_delay) if spec else 1.0
            outcome = Outcome(job.id, token, JobStatus.PENDING, error=error, retry_in=delay)
        else:
            outcome = Outcome(job.id, token, JobStatus.FAILED, error=error)
        return RunResult(outcome, exc, duration)
