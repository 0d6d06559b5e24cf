"""Which ``@task`` functions a worker may run, and the DBJobQ job functions that run them.

Every task defined for a DBJobQ backend is registered here when it is defined (the backend's
``validate_task`` calls :func:`register_task`), and a job function is registered in DBJobQ's registry
under the task's module path (``myapp.tasks.send_email``): that is the stored job type. A worker runs
a task only through this registry. A stored job type is data: it is looked up, and a module it names
is imported only if it belongs to an installed app (Django's own list of the project's code).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import sys
import threading
from collections.abc import Callable
from importlib import import_module
from typing import Any

from django.apps import apps

import dbjobq

from . import compat

logger = logging.getLogger(__name__)

#: The task result of the run in progress (set by the worker's ``job_started`` hook, read by the runner).
current_result: contextvars.ContextVar[compat.TaskResult[Any, Any] | None] = contextvars.ContextVar(
    "dbjobq_django_task_result", default=None
)

_tasks: dict[str, compat.Task[Any, Any]] = {}
_lock = threading.Lock()
_discovered = False


def register_task(
    task: compat.Task[Any, Any],
    *,
    max_retries: int,
    timeout: float | None,
    retry_delay: float,
    retry_max_delay: float,
) -> None:
    """Register ``task`` and a DBJobQ job function for it under ``task.module_path`` (idempotent).

    Copies made with ``task.using(...)`` share the function and are not registered again, so the
    job function that ``runworker`` wrapped (Django connection handling) stays in place.
    """
    path = task.module_path
    known = _tasks.get(path)
    if known is not None and known.func is task.func:
        return
    with _lock:
        _tasks[path] = task
        dbjobq.job(
            name=path,
            max_retries=max_retries,
            priority=task.priority,
            queue=task.queue_name,
            timeout=timeout,
            retry_delay=retry_delay,
            retry_max_delay=retry_max_delay,
        )(_runner(path, asyncio.iscoroutinefunction(task.func)))


def get_task(path: str) -> compat.Task[Any, Any] | None:
    """The registered task whose module path is ``path``, or ``None``."""
    return _tasks.get(path)


def resolve_task(path: str) -> compat.Task[Any, Any] | None:
    """The task stored as ``path``: registered, or defined in an installed app's module; else ``None``.

    Unknown paths first trigger, once per process, the discovery ``runworker`` does (the
    ``DBJOBQ["AUTODISCOVER"]`` modules of installed apps). A module outside every installed app is
    never imported.
    """
    global _discovered
    task = _tasks.get(path)
    if task is not None:
        return task
    if not _discovered:
        _discovered = True
        from ..worker import discover_jobs

        discover_jobs()
        task = _tasks.get(path)
        if task is not None:
            return task
    module_name = path.rpartition(".")[0]
    if module_name and module_name not in sys.modules and apps.get_containing_app_config(module_name):
        try:
            import_module(module_name)
        except ImportError:
            return None
        except Exception:
            logger.exception("Importing %s for task %s failed", module_name, path, extra={"action": "task_import"})
            return None
    return _tasks.get(path)


def _runner(path: str, is_async: bool) -> Callable[[dict[str, Any]], Any]:
    """The DBJobQ job function for the task at ``path``: sync or async like the task."""
    if is_async:

        async def run_async_task(data: dict[str, Any]) -> Any:
            task, args, kwargs = _call_arguments(path, data)
            return compat.normalize_json(await task.func(*args, **kwargs))

        runner: Callable[[dict[str, Any]], Any] = run_async_task
    else:

        def run_task(data: dict[str, Any]) -> Any:
            task, args, kwargs = _call_arguments(path, data)
            return compat.normalize_json(task.func(*args, **kwargs))

        runner = run_task
    runner.__qualname__ = runner.__name__ = f"task[{path}]"
    return runner


def _call_arguments(path: str, data: dict[str, Any]) -> tuple[compat.Task[Any, Any], list[Any], dict[str, Any]]:
    task = _tasks[path]
    args, kwargs = data.get("args", []), data.get("kwargs", {})
    if not isinstance(args, list) or not isinstance(kwargs, dict):
        raise TypeError(f"The stored arguments of task {path} are not a list and a dict: {data!r}")
    if task.takes_context:
        result = current_result.get()
        if result is None:
            raise RuntimeError(
                f"Task {path} takes a context, which only `manage.py runworker` provides: run it with a worker"
            )
        args = [compat.TaskContext(task_result=result), *args]
    return task, args, kwargs
