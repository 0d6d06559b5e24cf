"""Running a worker inside a Django project: job discovery and Django's connection rules for sync jobs."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from typing import Any

from django.db import close_old_connections, reset_queries
from django.utils.module_loading import autodiscover_modules

from dbjobq import Worker, WorkerStats
from dbjobq.integration import WorkerConfig, mask_url, run_worker_blocking
from dbjobq.storage import SQLAlchemyStorage

from . import conf

logger = logging.getLogger(__name__)


def discover_jobs(module_names: tuple[str, ...] | None = None) -> None:
    """Import the job modules (``jobs.py``, ``tasks.py`` by default) of every installed app."""
    names = conf.get_settings().autodiscover if module_names is None else module_names
    if names:
        autodiscover_modules(*names)


def with_fresh_connections(call: Callable[[], Any]) -> Any:
    """Run a sync job's ``call()`` as Django runs a request: stale or broken connections of this thread
    are closed before the job and again after it (the worker's ``wrap_sync``).

    Sync jobs run in the worker's threads, where Django opens one connection per thread; nothing
    closes them between jobs unless we do, so a connection dropped by the server, or older than
    ``CONN_MAX_AGE``, would break every later job of that thread.
    """
    reset_queries()
    close_old_connections()
    try:
        return call()
    finally:
        close_old_connections()


def worker_config() -> WorkerConfig:
    """The worker options of the ``DBJOBQ`` settings, with Django's connection handling for sync jobs."""
    return dataclasses.replace(conf.get_settings().worker, wrap_sync=with_fresh_connections)


def prepare_worker(worker: Worker) -> None:
    """Run Django tasks (``@task``) on ``worker`` too: their context and signals (see ``tasks.execution``)."""
    install_task_hooks(worker)


def install_task_hooks(worker: Worker) -> None:
    """Run Django tasks (``@task``) on ``worker`` too: their context and signals (see ``tasks.execution``)."""
    try:
        from .tasks import execution
    except ImportError:
        return  # no Tasks framework installed (Django < 6 without django-tasks): no tasks to run
    execution.install(worker)


def run_worker(options: Mapping[str, Any]) -> WorkerStats:
    """Discover jobs and run a worker with the parsed ``runworker`` options until signalled (or drained).

    Options not given on the command line come from the ``DBJOBQ`` settings.
    """
    settings = conf.get_settings()
    discover_jobs()
    conf.declare_schedules()  # again: the settings may have changed since start-up (tests)
    url = settings.engine_url()
    logger.info("Worker database: %s", mask_url(url), extra={"action": "runworker"})
    return run_worker_blocking(
        lambda: SQLAlchemyStorage(url, **settings.storage_options(), **settings.engine_options),
        options,
        config=worker_config(),
        on_start=prepare_worker,
    )
