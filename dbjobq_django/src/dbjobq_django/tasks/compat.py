"""Django's Tasks framework from wherever it lives: ``django.tasks`` (Django 6.0+) or the
``django-tasks`` backport (Django 4.2-5.2). One backend class serves both.

Everything else in :mod:`dbjobq_django.tasks` imports the framework from here. Type checking sees
``django.tasks`` (django-stubs); at run time Django's own copy wins when both are installed, since
``TASKS`` is then read by ``django.tasks``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from django.tasks import Task, TaskContext, TaskResult, TaskResultStatus, task_backends
    from django.tasks.backends.base import BaseTaskBackend
    from django.tasks.base import TaskError
    from django.tasks.exceptions import InvalidTask, InvalidTaskBackend, TaskResultDoesNotExist
    from django.tasks.signals import task_enqueued, task_finished, task_started

    def normalize_json(obj: Any) -> Any: ...

    FRAMEWORK: str
else:
    try:
        from django.tasks import Task, TaskContext, TaskResult, TaskResultStatus, task_backends
        from django.tasks.backends.base import BaseTaskBackend
        from django.tasks.base import TaskError
        from django.tasks.exceptions import InvalidTask, InvalidTaskBackend, TaskResultDoesNotExist
        from django.tasks.signals import task_enqueued, task_finished, task_started
        from django.utils.json import normalize_json

        FRAMEWORK = "django.tasks"
    except ImportError:
        try:
            from django_tasks import TaskContext, TaskResult, TaskResultStatus, task_backends
            from django_tasks.backends.base import BaseTaskBackend
            from django_tasks.base import Task, TaskError
            from django_tasks.exceptions import InvalidTaskBackendError as InvalidTaskBackend
            from django_tasks.exceptions import InvalidTaskError as InvalidTask
            from django_tasks.exceptions import TaskResultDoesNotExist
            from django_tasks.signals import task_enqueued, task_finished, task_started
            from django_tasks.utils import normalize_json

            FRAMEWORK = "django_tasks"
        except ImportError:
            raise ImportError(
                "DBJobQ's Django Tasks backend needs Django 6.0+ (django.tasks) or, on Django 4.2-5.2, the "
                'django-tasks backport: pip install "dbjobq-django[tasks]"'
            ) from None

# django-stubs spells the members `READY = ...`; these are typed for use.
READY = cast("TaskResultStatus", TaskResultStatus.READY)
RUNNING = cast("TaskResultStatus", TaskResultStatus.RUNNING)
SUCCESSFUL = cast("TaskResultStatus", TaskResultStatus.SUCCESSFUL)
FAILED = cast("TaskResultStatus", TaskResultStatus.FAILED)

__all__ = [
    "FAILED",
    "FRAMEWORK",
    "READY",
    "RUNNING",
    "SUCCESSFUL",
    "BaseTaskBackend",
    "InvalidTask",
    "InvalidTaskBackend",
    "Task",
    "TaskContext",
    "TaskError",
    "TaskResult",
    "TaskResultDoesNotExist",
    "TaskResultStatus",
    "normalize_json",
    "task_backends",
    "task_enqueued",
    "task_finished",
    "task_started",
]
