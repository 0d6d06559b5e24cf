"""Running a worker inside a Django project: job discovery and Django's connection rules for jobs."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Mapping
from typing import Any

from django.db import close_old_connections, reset_queries
from django.utils.module_loading import autodiscover_modules

from dbjobq import Job, JobNotRegisteredError, RunResult, Worker, WorkerStats
from dbjobq.integration import as_seconds, mask_url, run_worker_blocking
from dbjobq.integration import registry as job_registry
from dbjobq.storage import SQLAlchemyStorage

from . import conf

logger = logging.getLogger(__name__)

_WRAPPED = "__dbjobq_django_connections__"


def discover_jobs(module_names: tuple[str, ...] | None = None) -> None:
    """Import the job modules (``jobs.py``, ``tasks.py`` by default) of every installed app."""
    names = conf.get_settings().autodiscover if module_names is None else module_names
    if names:
        autodiscover_modules(*names)


def with_fresh_connections(func: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], Any]:
    """Wrap a sync job so that, in the thread running it, Django's connections are managed as for a
    request: stale or broken connections are closed before the job and again after it."""

    @functools.wraps(func)
    def run(data: dict[str, Any]) -> Any:
        reset_queries()
        close_old_connections()
        try:
            return func(data)
        finally:
            close_old_connections()

    setattr(run, _WRAPPED, True)
    return run


def manage_connections(name: str) -> None:
    """Make the registered sync job ``name`` manage Django connections (idempotent; async jobs untouched).

    Sync jobs run in the worker's thread pool, where Django opens one connection per thread; nothing
    closes them between jobs unless we do, so a connection dropped by the server, or older than
    ``CONN_MAX_AGE``, would break every later job of that thread.
    """
    spec = job_registry.get_spec(name)
    if spec is None or asyncio.iscoroutinefunction(spec.func) or getattr(spec.func, _WRAPPED, False):
        return
    job_registry.job(
        max_retries=spec.max_retries,
        priority=spec.priority,
        queue=spec.queue,
        timeout=spec.timeout,
        name=spec.name,
        retry_delay=spec.retry_delay,
        retry_max_delay=spec.retry_max_delay,
    )(with_fresh_connections(spec.func))


def prepare_worker(worker: Worker) -> None:
    """Apply the ``DBJOBQ`` retention settings and Django's connection handling to ``worker``."""
    settings = conf.get_settings()
    worker.retention = as_seconds(settings.retention)
    worker.failed_retention = as_seconds(settings.failed_retention)
    for name in job_registry.registered():
        manage_connections(name)

    async def on_job_started(job: Job, _result: RunResult | None) -> None:
        # A job type registered after start (its module imported on demand by the core) is wrapped
        # here, before the worker resolves it to run it.
        if job_registry.get_spec(job.type) is None:
            try:
                job_registry.resolve(job.type)
            except JobNotRegisteredError:
                return  # the run fails with the core's explanation
        manage_connections(job.type)

    worker.on("job_started", on_job_started)
    install_task_hooks(worker)


def install_task_hooks(worker: Worker) -> None:
    """Run Django tasks (``@task``) on ``worker`` too: their context and signals (see ``tasks.execution``)."""
    try:
        from .tasks import execution
    except ImportError:
        return  # no Tasks framework installed (Django < 6 without django-tasks): no tasks to run
    execution.install(worker)


def run_worker(options: Mapping[str, Any]) -> WorkerStats:
    """Discover jobs and run a worker with the parsed ``runworker`` options until signalled (or drained)."""
    settings = conf.get_settings()
    discover_jobs()
    url = settings.engine_url()
    logger.info("Worker database: %s", mask_url(url), extra={"action": "runworker"})
    return run_worker_blocking(
        lambda: SQLAlchemyStorage(url, **settings.engine_options), options, on_start=prepare_worker
    )

