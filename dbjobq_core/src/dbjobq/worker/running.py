"""Running claimed jobs: one task per job, started from a clean context, whose end is always an outcome.

Each job's task starts from a copy of the context taken when the worker started, never from the task
that happens to start it (the previous job's, whose context variables would otherwise leak into the
next job). Whatever a job raises becomes a failed outcome; only the worker's own revocation (stop, a
lost lease) ends a task without one, and that job is released or recovered instead.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Callable

from ..execution import LOG_LIMIT, RunResult, cancel_requested, cut, failure, run_job, safe_repr
from ..hooks import Hooks, JobEvent
from ..metrics.worker import WorkerMetrics
from ..models import Job, JobStatus
from .config import WorkerConfig
from .inflight import InFlight
from .outcomes import OutcomeBuffer
from .stats import WorkerStats
from .threads import JobThreads

logger = logging.getLogger(__name__)


class JobRunner:
    """Starts job tasks and turns each run into an outcome, counters, hooks and one log line."""

    def __init__(
        self,
        inflight: InFlight,
        outcomes: OutcomeBuffer,
        stats: WorkerStats,
        hooks: Hooks,
        threads: JobThreads,
        config: WorkerConfig,
        *,
        on_done: Callable[[], None],
        metrics: WorkerMetrics | None = None,
    ) -> None:
        self.inflight = inflight
        self.outcomes = outcomes
        self.stats = stats
        self.hooks = hooks
        self.threads = threads
        self.wrap_sync = config.wrap_sync
        self.metrics = metrics
        self.trace = config.tracing is not False
        self.error_limit = config.error_limit
        self._on_done = on_done
        self._context = contextvars.copy_context()

    def reset_context(self) -> None:
        """Take the current context as the one every job starts from (called when the worker starts)."""
        self._context = contextvars.copy_context()

    def spawn(self, job: Job, gate: asyncio.Future[None] | None = None) -> asyncio.Task[None]:
        """Start ``job`` in a task of its own, in a fresh copy of the start-up context; it runs once
        ``gate`` (its attempt recorded, for a job claimed ahead) is done."""
        loop = asyncio.get_running_loop()
        # Works on Python 3.10, whose create_task has no context=: the task copies the context current
        # at its creation, here a copy of the start-up context.
        return self._context.copy().run(loop.create_task, self._execute(job, gate), name=f"dbjobq-job-{job.id}")

    async def _execute(self, job: Job, gate: asyncio.Future[None] | None = None) -> None:
        recorded = False
        try:
            if gate is not None:
                await asyncio.shield(gate)
            self.stats.started += 1
            if self.metrics is not None:
                self.metrics.job_started(job)
            if self.hooks:
                await self.hooks.emit("job_started", job)
            result = await run_job(
                job,
                executor=self.threads,
                wrap_sync=self.wrap_sync,
                revoked=lambda: job.id in self.inflight.revoked,
                storage=self.outcomes.storage,
                trace=self.trace,
                error_limit=self.error_limit,
            )
            self.outcomes.add(result.outcome)
            recorded = True
            self.inflight.observe(result.duration)
            event = self._count_and_log(job, result)
            if self.hooks and event is not None:
                await self.hooks.emit(event, job, result)
        except asyncio.CancelledError as exc:
            if job.id in self.inflight.revoked:
                logger.info(
                    "Job %s (%s) interrupted", job.id, job.type, extra={"action": "job_interrupted", "job_id": job.id}
                )
            elif cancel_requested():
                raise  # cancelled from outside the worker (the event loop is closing): let it end
            elif not recorded:  # raised by a hook, not by the job: the run still needs an outcome
                self._record_failure(job, exc)
        except BaseException as exc:
            if not recorded:
                self._record_failure(job, exc)
            else:
                logger.error("After job %s: %s", job.id, safe_repr(exc), extra={"action": "hook_failed"})
        finally:
            self.inflight.finished(job.id)
            self._on_done()

    def _record_failure(self, job: Job, exc: BaseException) -> None:
        result = failure(job, exc, 0.0, error_limit=self.error_limit)
        self.outcomes.add(result.outcome)
        self._count_and_log(job, result)

    def _count_and_log(self, job: Job, result: RunResult) -> JobEvent | None:
        """Count the run, log its one line, and return the hook event it fires (none for a snooze)."""
        outcome = result.outcome
        if outcome.snoozed:
            self.stats.snoozed += 1
            logger.info(
                "Job %s (%s) snoozed for %.1fs",
                job.id,
                job.type,
                outcome.retry_in or 0.0,
                extra={"action": "job_snoozed", **_fields(job, result)},
            )
            return None
        if self.metrics is not None:
            self.metrics.job_finished(job, _METRIC_STATUS[outcome.status], result.duration)
        if outcome.status is JobStatus.COMPLETED:
            self.stats.completed += 1
            if logger.isEnabledFor(logging.INFO):  # the hot path: no work for a line nobody reads
                logger.info(
                    "Job %s (%s) completed in %.3fs (attempt %d/%d)",
                    job.id,
                    job.type,
                    result.duration,
                    job.attempts,
                    job.max_retries + 1,
                    extra={"action": "job_completed", **_fields(job, result)},
                )
            return "job_succeeded"
        attempts = f"{job.attempts}/{job.max_retries + 1}"
        extra = _fields(job, result)
        error = cut(outcome.error or "", LOG_LIMIT)
        if outcome.status is JobStatus.PENDING:
            self.stats.retried += 1
            logger.warning(
                "Job %s (%s) failed in %.3fs (attempt %s), retrying in %.1fs: %s",
                job.id,
                job.type,
                result.duration,
                attempts,
                outcome.retry_in or 0.0,
                error,
                extra={"action": "job_retried", **extra},
            )
            return "job_retried"
        self.stats.failed += 1
        logger.error(
            "Job %s (%s) failed in %.3fs (attempt %s, no retries left): %s",
            job.id,
            job.type,
            result.duration,
            attempts,
            error,
            extra={"action": "job_failed", **extra},
        )
        return "job_failed"


#: The ``status`` label of ``dbjobq_jobs_finished_total`` for each recorded status (PENDING: a retry).
_METRIC_STATUS = {JobStatus.COMPLETED: "completed", JobStatus.FAILED: "failed", JobStatus.PENDING: "retried"}


def _fields(job: Job, result: RunResult) -> dict[str, object]:
    """The stable ``extra`` fields of a finished job's log line."""
    return {
        "job_id": job.id,
        "job_type": job.type,
        "queue": job.queue,
        "attempt": job.attempts,
        "duration": round(result.duration, 6),
        "outcome": result.outcome.status.value,
    }
