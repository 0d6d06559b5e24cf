"""Django Tasks (``@task``) run by DBJobQ: discovered by `runworker` as this app's tasks module."""

from __future__ import annotations

import os
import time
from typing import Any

try:
    from django.tasks import TaskContext, task  # Django 6.0+
except ImportError:
    from django_tasks import TaskContext, task  # the backport, Django 4.2-5.2

from .models import Note


class TaskBoom(Exception):
    """The error a failing task raises (a class of this module: its path is in the task error)."""


@task()
def add(a: int, b: int) -> int:
    """A sync task."""
    return a + b


@task(priority=5, queue_name="other")
async def async_add(a: int, b: int) -> int:
    """An async task on another queue, with a priority."""
    return a + b


@task()
def fail(message: str) -> None:
    """Fails every time."""
    raise TaskBoom(message)


@task(takes_context=True, max_retries=3)
def flaky(context: TaskContext, failures: int) -> dict[str, Any]:
    """Fails ``failures`` times, then returns what its context said (retried per task: max_retries=3)."""
    if context.attempt <= failures:
        raise TaskBoom(f"attempt {context.attempt} fails")
    result = context.task_result
    return {"attempt": context.attempt, "id": result.id, "status": str(result.status), "workers": result.worker_ids}


@task(takes_context=True)
async def async_context(context: TaskContext) -> int:
    """An async task with a context."""
    return context.attempt


@task()
def write_note(text: str, using: str) -> int:
    """A sync task that writes with the ORM (in the worker's thread)."""
    return Note.objects.using(using).create(text=text).pk


@task()
def not_json() -> object:
    """Returns what JSON cannot hold: the run fails (the framework's rule)."""
    return object()


@task()
def record_run(path: str, key: str) -> None:
    """Appends ``key`` to the file ``path`` (one line per run, appends are atomic)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{key}\n".encode())
    finally:
        os.close(fd)


@task(takes_context=True, max_retries=2)
def hang_first_attempt(context: TaskContext, marker: str) -> str:
    """On its first attempt, writes ``marker`` and hangs (the test kills the worker); later returns."""
    if context.attempt == 1:
        with open(marker, "w") as handle:
            handle.write(context.task_result.id)
        time.sleep(120)
        return "not killed"
    return f"recovered on attempt {context.attempt}"


@task(takes_context=True, timeout=0.5)
async def sleepy(context: TaskContext, seconds: float) -> str:
    """Sleeps; runs over its per-task timeout."""
    import asyncio

    await asyncio.sleep(seconds)
    return "woke"


def plain_function(text: str) -> str:
    """Not a task: a stored job naming it must never run it."""
    Note.objects.create(text=f"plain function ran: {text}")
    return text
